import { readFileSync } from 'node:fs';
import { isErrnoException } from './errors.ts';

/** True while a process with `pid` exists (EPERM means it exists but is not ours). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrnoException(error, 'EPERM');
  }
}

/**
 * The start time (field 22 of /proc/<pid>/stat) of a process, or undefined when it is gone. With
 * the pid it identifies a process across pid reuse: locks and leases record both.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; fields after it are plain.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined; // no such process (or no procfs): treated as not running
  }
}
