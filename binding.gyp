{
  "targets": [
    {
      "target_name": "strata_native",
      "sources": ["native/strata_native.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-Werror=implicit-function-declaration"],
      "ldflags": ["-Wl,-z,now"]
    },
    {
      "target_name": "strata-chroot",
      "type": "executable",
      "sources": ["native/strata_chroot.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-Werror=implicit-function-declaration"]
    }
  ]
}
