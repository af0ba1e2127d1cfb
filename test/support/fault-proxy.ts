/**
 * Test helper for fault injection: an HTTP proxy in front of a registry that, at random (seeded),
 * answers 500 or 429 instead of forwarding, and drops connections in the middle of blob bodies
 * (downloads and uploads). It counts what it did so tests can prove the faults happened. It can
 * also redirect blob GETs to a second "storage" origin that refuses any Authorization header, and
 * hold back large blobs' responses (a slow link).
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';

/** What the proxy does, as probabilities per request (0 … 1). */
export interface FaultOptions {
  readonly seed: number;
  readonly error500?: number;
  readonly error429?: number;
  /** Drop a blob GET's response or a blob upload's request body halfway. */
  readonly dropBlob?: number;
  /** Redirect blob GETs (307) to a storage origin that rejects Authorization. */
  readonly redirectBlobs?: boolean;
  /** Flip one byte in the body of every blob GET (the client must refuse the blob). */
  readonly corruptBlobs?: boolean;
  /** Faults start after this many requests (lets setup pass). */
  readonly after?: number;
  /**
   * Hold back the response to every blob GET larger than `minBytes` for `delayMs` (a slow link), or
   * until `until` settles when that comes first (a test that releases it at a moment it observes).
   */
  readonly slowBlobs?: {
    readonly minBytes: number;
    readonly delayMs: number;
    readonly until?: Promise<unknown>;
  };
}

/** Counters of injected faults and seen requests. */
export interface FaultStats {
  requests: number;
  error500: number;
  error429: number;
  droppedDownloads: number;
  droppedUploads: number;
  redirected: number;
  /** Requests that reached the storage origin carrying an Authorization header (must stay 0). */
  storageSawAuthorization: number;
  storageRequests: number;
  /** Blob GETs that carried a Range header (resumed downloads). */
  rangeRequests: number;
  /** GETs of an upload URL (a client asking where an interrupted upload stands). */
  uploadStatusChecks: number;
}

/** A running proxy. */
export interface FaultProxy {
  readonly host: string;
  readonly stats: FaultStats;
  /** Turns faults on or off (e.g. off while seeding the registry). */
  enabled: boolean;
  stop(): Promise<void>;
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

function forward(
  target: { host: string; port: number },
  req: IncomingMessage,
  res: ServerResponse,
  options: {
    path?: string;
    headers?: Record<string, string | string[] | undefined>;
    onResponse?: (up: IncomingMessage) => boolean;
  },
): void {
  const upstream = httpRequest(
    {
      host: target.host,
      port: target.port,
      method: req.method,
      path: options.path ?? req.url,
      headers: options.headers ?? req.headers,
    },
    (up) => {
      if (options.onResponse && !options.onResponse(up)) return;
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
}

/** Starts a proxy to the registry at `target` (`127.0.0.1:port`). */
export async function startFaultProxy(target: string, options: FaultOptions): Promise<FaultProxy> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const upstream = { host: targetHost, port: Number(targetPort) };
  const random = seededRandom(options.seed);
  const stats: FaultStats = {
    requests: 0,
    error500: 0,
    error429: 0,
    droppedDownloads: 0,
    droppedUploads: 0,
    redirected: 0,
    storageSawAuthorization: 0,
    storageRequests: 0,
    rangeRequests: 0,
    uploadStatusChecks: 0,
  };
  const state = { enabled: true };

  // The "blob storage" origin: refuses Authorization (like S3 with a presigned URL), otherwise
  // fetches from the registry with the credentials the redirect URL stands for.
  const storage = createServer((req, res) => {
    stats.storageRequests++;
    if (req.headers.authorization) {
      stats.storageSawAuthorization++;
      res.writeHead(400).end('Authorization must not be sent to storage');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const auth = url.searchParams.get('x-test-auth');
    url.searchParams.delete('x-test-auth');
    url.searchParams.delete('X-Amz-Signature');
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: target };
    if (auth) headers.authorization = auth;
    forward(upstream, req, res, { path: `${url.pathname}${url.search}`, headers });
  });
  const storagePort = await listen(storage);

  const server = createServer((req, res) => {
    stats.requests++;
    const active = state.enabled && stats.requests > (options.after ?? 0);
    const path = req.url ?? '/';
    const isBlobGet = req.method === 'GET' && /\/blobs\/sha256:/.test(path);
    const isUpload = (req.method === 'PATCH' || req.method === 'PUT') && /\/blobs\/uploads\//.test(path);
    if (isBlobGet && req.headers.range) stats.rangeRequests++;
    if (req.method === 'GET' && /\/blobs\/uploads\//.test(path)) stats.uploadStatusChecks++;
    if (active && path !== '/v2/') {
      const roll = random();
      if (roll < (options.error500 ?? 0)) {
        stats.error500++;
        req.resume();
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'injected fault' }] }));
        return;
      }
      if (roll < (options.error500 ?? 0) + (options.error429 ?? 0)) {
        stats.error429++;
        req.resume();
        res
          .writeHead(429, { 'retry-after': '0', 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'injected throttle' }] }));
        return;
      }
    }
    if (isBlobGet && options.redirectBlobs && !path.includes('x-no-redirect')) {
      stats.redirected++;
      const location = new URL(`http://127.0.0.1:${storagePort}${path}`);
      location.searchParams.set('X-Amz-Signature', 'secret-signature');
      if (req.headers.authorization) location.searchParams.set('x-test-auth', req.headers.authorization);
      req.resume();
      res.writeHead(307, { location: location.toString(), 'content-length': '0' }).end();
      return;
    }
    if (isBlobGet && options.corruptBlobs) {
      forward(upstream, req, res, {
        onResponse: (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          let first = true;
          up.on('data', (chunk: Buffer) => {
            if (first && chunk.length > 0) {
              chunk[0] = chunk[0]! ^ 0xff;
              first = false;
            }
            res.write(chunk);
          });
          up.on('end', () => res.end());
          return false;
        },
      });
      return;
    }
    const slow = options.slowBlobs;
    if (isBlobGet && slow) {
      forward(upstream, req, res, {
        onResponse: (up) => {
          if (!(Number(up.headers['content-length']) > slow.minBytes)) return true;
          up.pause();
          let released = false;
          const release = () => {
            if (released || res.destroyed) return;
            released = true;
            clearTimeout(timer);
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          };
          const timer = setTimeout(release, slow.delayMs);
          slow.until?.then(release, release);
          // The client gave up waiting: nothing more to send.
          res.on('close', () => {
            released = true;
            clearTimeout(timer);
            up.destroy();
          });
          return false;
        },
      });
      return;
    }
    const drop = active && random() < (options.dropBlob ?? 0);
    if (isBlobGet && drop) {
      forward(upstream, req, res, {
        onResponse: (up) => {
          const length = Number(up.headers['content-length']);
          if ((up.statusCode !== 200 && up.statusCode !== 206) || !(length > 1)) return true;
          stats.droppedDownloads++;
          res.writeHead(up.statusCode, up.headers);
          let sent = 0;
          const cut = Math.floor(length / 2);
          up.on('data', (chunk: Buffer) => {
            if (sent >= cut) return;
            const part = chunk.subarray(0, Math.max(0, cut - sent));
            sent += part.length;
            res.write(part);
            if (sent >= cut) {
              up.destroy();
              res.socket?.destroy();
            }
          });
          return false;
        },
      });
      return;
    }
    if (isUpload && drop && Number(req.headers['content-length']) > 1) {
      stats.droppedUploads++;
      // Read part of the body, then cut the client off without forwarding anything.
      let seen = 0;
      const cut = Math.floor(Number(req.headers['content-length']) / 2);
      req.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen >= cut) req.socket.destroy();
      });
      return;
    }
    forward(upstream, req, res, {});
  });
  const port = await listen(server);
  return {
    host: `127.0.0.1:${port}`,
    stats,
    get enabled() {
      return state.enabled;
    },
    set enabled(value: boolean) {
      state.enabled = value;
    },
    stop: async () => {
      server.closeAllConnections();
      storage.closeAllConnections();
      await Promise.all([
        new Promise<void>((resolve) => server.close(() => resolve())),
        new Promise<void>((resolve) => storage.close(() => resolve())),
      ]);
    },
  };
}
