// A minimal gin service: GET /ping answers {"message":"pong"} on :8080 (the talk's example).
package main

import "github.com/gin-gonic/gin"

func main() {
	r := gin.Default()
	r.GET("/ping", func(c *gin.Context) {
		c.JSON(200, gin.H{
			"message": "pong",
		})
	})
	r.Run() // listens on 0.0.0.0:8080, or on $PORT
}
