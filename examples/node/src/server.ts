// An express service: GET /ping answers {"message":"pong"}, on $PORT (default 3000).
import compression from 'compression';
import express, { type Request, type Response } from 'express';
import helmet from 'helmet';
import morgan from 'morgan';

const app = express();
app.use(helmet());
app.use(compression());
app.use(morgan('tiny'));

app.get('/', (_req: Request, res: Response) => {
  res.send('Hello, World!');
});

app.get('/ping', (_req: Request, res: Response) => {
  res.json({ message: 'pong' });
});

const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, () => {
  console.log(`listening on :${port}`);
});

// Stop cleanly on `docker stop` / Ctrl-C (node as PID 1 has no default signal handlers).
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
