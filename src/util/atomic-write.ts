import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A name for a temporary sibling of `path`: same directory, so rename is atomic. */
export function tempSiblingPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
}

/**
 * Writes `data` to `path` so that readers see the old content or the new, never a mix:
 * temp file in the same directory → fsync → rename → fsync of the directory. With
 * `durable: false` the fsyncs are skipped (still atomic for readers, not crash-durable): for
 * records that mean nothing after a crash, such as a live process's lease.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { durable?: boolean } = {},
): Promise<void> {
  const durable = options.durable ?? true;
  const temp = tempSiblingPath(path);
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined); // best effort: the write already failed
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined); // best effort: the rename already failed
    throw error;
  }
  if (durable) await fsyncDirectory(dirname(path));
}

/**
 * The synchronous twin of {@link writeFileAtomic}, for small files written under a lock or on a
 * hot path, where a thread-pool round trip per file operation costs more than the write.
 */
export function writeFileAtomicSync(
  path: string,
  data: string | Uint8Array,
  options: { durable?: boolean } = {},
): void {
  const durable = options.durable ?? true;
  const temp = tempSiblingPath(path);
  const fd = openSync(temp, 'wx', 0o644);
  try {
    const buffer = typeof data === 'string' ? Buffer.from(data) : data;
    let offset = 0;
    while (offset < buffer.length) offset += writeSync(fd, buffer, offset);
    if (durable) fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // best effort: the write already failed
    }
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // best effort: the rename already failed
    }
    throw error;
  }
  if (durable) fsyncDirectorySync(dirname(path));
}

/** Makes a rename or create inside `dir` durable. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The synchronous twin of {@link fsyncDirectory}. */
export function fsyncDirectorySync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
