import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StrataError } from '../util/index.ts';

/** Thrown when an ADD URL cannot be downloaded. */
export class DownloadError extends StrataError {
  constructor(url: string, reason: string, options: { cause?: unknown } = {}) {
    super('DOWNLOAD_FAILED', `downloading ${url}: ${reason}`, options);
  }
}

/** A downloader for `ADD <url>` that fetches each URL once per build and serves repeats from disk. */
export interface UrlFetcher {
  fetch(url: string, signal?: AbortSignal): Promise<Readable>;
  /** Removes the downloads. */
  close(): Promise<void>;
}

/**
 * Makes the build's URL fetcher: follows redirects, honours HTTP(S)_PROXY / NO_PROXY, fails on a
 * non-2xx status. A URL is downloaded once into `tmpRoot` (the cache key hashes it, then the step
 * copies it), and undici is loaded only when a Dockerfile actually ADDs a URL.
 */
export function urlFetcher(tmpRoot: string): UrlFetcher {
  let dir: Promise<string> | undefined;
  const files = new Map<string, Promise<string>>();
  const download = async (url: string, signal?: AbortSignal): Promise<string> => {
    dir ??= mkdtemp(join(tmpRoot, 'add-url-'));
    const file = join(await dir, String(files.size));
    // undici is CommonJS: a dynamic import hands back its exports as `default` once bundled.
    const loaded = (await import('undici')) as typeof import('undici') & {
      default?: typeof import('undici');
    };
    const { request, EnvHttpProxyAgent, interceptors } = loaded.default ?? loaded;
    const { defaultTrust } = await import('../registry/tls-trust.ts');
    const trust = defaultTrust();
    const dispatcher = new EnvHttpProxyAgent({ connect: trust, requestTls: trust, proxyTls: trust }).compose(
      interceptors.redirect({ maxRedirections: 10 }),
    );
    try {
      const response = await request(url, { dispatcher, ...(signal ? { signal } : {}) });
      if (response.statusCode < 200 || response.statusCode >= 300) {
        await response.body.dump();
        throw new DownloadError(url, `HTTP ${response.statusCode}`);
      }
      await pipeline(response.body, createWriteStream(file), ...(signal ? [{ signal }] : []));
    } catch (error) {
      if (error instanceof DownloadError) throw error;
      throw new DownloadError(url, (error as Error).message, { cause: error });
    } finally {
      await dispatcher.close();
    }
    return file;
  };
  return {
    async fetch(url, signal) {
      let file = files.get(url);
      if (!file) {
        file = download(url, signal);
        files.set(url, file);
        file.catch(() => files.delete(url));
      }
      return createReadStream(await file);
    },
    async close() {
      if (dir) await rm(await dir, { recursive: true, force: true });
    },
  };
}
