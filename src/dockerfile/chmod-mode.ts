import { DockerfileError } from './dockerfile-error.ts';

/**
 * A `--chmod` value: octal bits that replace a copied file's permissions, or a symbolic mode
 * (`u=rwX,go=rX`, `+x`; Dockerfile 1.14) applied to each file's own mode, as BuildKit applies it
 * (tonistiigi/dchapes-mode, a port of BSD's setmode(3) with umask 0, used by fsutil's copier).
 */
export type ChmodMode =
  | { readonly kind: 'octal'; readonly bits: number }
  | { readonly kind: 'symbolic'; readonly text: string; readonly commands: readonly ModeCommand[] };

/**
 * One step of a symbolic mode, as setmode(3) compiles it: set (`+`) or clear (`-`) bits, set bits
 * only for executables and directories (`X`), or copy a class's bits (`u`, `g`, `o` as in `g=u`).
 */
export interface ModeCommand {
  readonly op: '+' | '-' | 'X' | 'u' | 'g' | 'o';
  readonly bits: number;
  /** For a copy: whether it sets, clears (`=` does both) and into which classes. */
  readonly set?: boolean;
  readonly clear?: boolean;
  readonly classes?: { readonly user: boolean; readonly group: boolean; readonly other: boolean };
}

const SET_UID = 0o4000;
const SET_GID = 0o2000;
const STICKY = 0o1000;
const USER = 0o700;
const GROUP = 0o070;
const OTHER = 0o007;
const READ = 0o444;
const WRITE = 0o222;
const EXEC = 0o111;
const STANDARD = SET_UID | SET_GID | USER | GROUP | OTHER;
/** `~umask` with umask 0, as a 16-bit mode_t. */
const MASK = 0xffff;

/** The input does not parse as a mode (`invalid syntax`, as Go's ErrSyntax). */
class ModeSyntaxError extends Error {}

/**
 * Parses a `--chmod` value as BuildKit does: an octal number up to 07777, else a symbolic mode.
 *
 * @throws DockerfileError with BuildKit's "should be octal string" message for a value that looks
 *   numeric (starts with a digit), and "invalid syntax" for a bad symbolic mode.
 */
export function parseChmodMode(value: string): ChmodMode {
  if (/^\d/.test(value)) {
    if (/^[0-7]+$/.test(value) && Number.parseInt(value, 8) <= 0o7777)
      return { kind: 'octal', bits: Number.parseInt(value, 8) };
    throw new DockerfileError(invalidChmodMessage(value));
  }
  try {
    return { kind: 'symbolic', text: value, commands: compileSymbolic(value) };
  } catch (error) {
    if (!(error instanceof ModeSyntaxError)) throw error;
    throw new DockerfileError(`invalid chmod parameter: '${value}': invalid syntax`, {
      hint: 'use octal (0755) or a symbolic mode such as u=rwX,go=rX or +x',
    });
  }
}

/**
 * Whether a `--chmod` value is one BuildKit accepts: an octal mode up to 07777, or a symbolic one
 * (`u=rwX,go=rX`) that does not start with a digit.
 */
export function isValidChmod(value: string): boolean {
  try {
    parseChmodMode(value);
    return true;
  } catch (error) {
    if (error instanceof DockerfileError) return false;
    throw error;
  }
}

/** The message for a `--chmod` value {@link isValidChmod} refuses. */
export function invalidChmodMessage(value: string): string {
  if (value !== '' && !/^\d/.test(value)) return `invalid chmod parameter: '${value}': invalid syntax`;
  return `invalid chmod parameter: '${value}'. it should be octal string and between 0 and 07777`;
}

/**
 * The permission bits (with set-id and sticky bits, 07777) a copied node gets under `mode`, from
 * its own bits `perm`: octal replaces them with its permission bits only; a symbolic mode is
 * applied to them (`X` adds execute only where some execute bit was set, or on a directory).
 *
 * An octal mode's setuid, setgid and sticky bits are dropped, as docker 20.10's BuildKit drops
 * them: fsutil's copier (0.8) chmods with Go's `os.FileMode(mode)`, whose set-id and sticky flags
 * are not the octal bits, so `--chmod=4755` gives 0755 (docs/buildkit-differences.md; fsutil
 * keeps them since 2023, moby/buildkit#3920).
 */
export function applyChmod(mode: ChmodMode, perm: number, isDirectory: boolean): number {
  if (mode.kind === 'octal') return mode.bits & 0o777;
  const original = perm & 0o7777;
  let next = original;
  for (const c of mode.commands) {
    switch (c.op) {
      case '+':
        next |= c.bits;
        break;
      case '-':
        next &= ~c.bits;
        break;
      case 'X':
        if ((original & EXEC) !== 0 || isDirectory) next |= c.bits;
        break;
      default: {
        // Copy one class's bits (as they are now) into the classes `who` named.
        const value = c.op === 'u' ? (next & USER) >> 6 : c.op === 'g' ? (next & GROUP) >> 3 : next & OTHER;
        const classes = c.classes!;
        if (c.clear) {
          const cleared = c.set ? OTHER : value;
          if (classes.user) next &= ~((cleared << 6) & c.bits);
          if (classes.group) next &= ~((cleared << 3) & c.bits);
          if (classes.other) next &= ~(cleared & c.bits);
        }
        if (c.set) {
          if (classes.user) next |= (value << 6) & c.bits;
          if (classes.group) next |= (value << 3) & c.bits;
          if (classes.other) next |= value & c.bits;
        }
      }
    }
  }
  return next & 0o7777;
}

/**
 * setmode(3)'s compiler with umask 0: clauses `[ugoa]*[-+=][rwxXst]*|[ugo]` separated by `,`,
 * several operators per clause (`u+r-w`). Quirks kept on purpose, since they decide what a
 * BuildKit build produces: `s` applies only when `u` or `g` is among the classes (or none is
 * given); `t` likewise, and then narrows the clause to the sticky bit.
 */
function compileSymbolic(text: string): ModeCommand[] {
  const out: ModeCommand[] = [];
  let s = text;
  if (s === '') throw new ModeSyntaxError();
  for (;;) {
    let who = 0;
    for (;;) {
      if (s.length === 0) throw new ModeSyntaxError();
      const ch = s[0];
      if (ch === 'a') who |= STANDARD;
      else if (ch === 'u') who |= SET_UID | USER;
      else if (ch === 'g') who |= SET_GID | GROUP;
      else if (ch === 'o') who |= OTHER;
      else break;
      s = s.slice(1);
    }
    let equalDone = false;
    // One or more operators, each with its permission letters.
    for (;;) {
      const op = s[0];
      s = s.slice(1);
      if (op === '=') equalDone = false;
      else if (op !== '+' && op !== '-') throw new ModeSyntaxError();
      who &= ~STICKY;
      let perm = 0;
      let permX = 0;
      for (; ; s = s.slice(1)) {
        const b = s[0] ?? '';
        if (b === 'r') perm |= READ;
        else if (b === 's') {
          if (who === 0 || (who & ~OTHER) !== 0) perm |= SET_UID | SET_GID;
        } else if (b === 't') {
          if (who === 0 || (who & ~OTHER) !== 0) {
            who |= STICKY;
            perm |= STICKY;
          }
        } else if (b === 'w') perm |= WRITE;
        else if (b === 'X') {
          if (op !== '-') permX = EXEC;
          else perm |= EXEC;
        } else if (b === 'x') perm |= EXEC;
        else if (b === 'u' || b === 'g' || b === 'o') {
          if (perm !== 0) {
            addCommand(out, op, who, perm);
            perm = 0;
          }
          if (op === '=') equalDone = true;
          if (permX !== 0) {
            addCommand(out, 'X', who, permX);
            permX = 0;
          }
          addCopy(out, b, who, op);
        } else {
          if (perm !== 0 || (op === '=' && !equalDone)) {
            if (op === '=') equalDone = true;
            addCommand(out, op, who, perm);
          }
          if (permX !== 0) addCommand(out, 'X', who, permX);
          break;
        }
      }
      if (s === '' || s[0] === ',') break;
    }
    if (s === '') break;
    s = s.slice(1);
  }
  return out;
}

function addCommand(out: ModeCommand[], op: string, who: number, perm: number): void {
  if (op === '=') {
    out.push({ op: '-', bits: who !== 0 ? who : STANDARD });
    op = '+';
  }
  out.push({ op: op as '+' | '-' | 'X', bits: who !== 0 ? who & perm : MASK & perm });
}

function addCopy(out: ModeCommand[], from: 'u' | 'g' | 'o', who: number, op: string): void {
  const classes =
    who === 0
      ? { user: true, group: true, other: true }
      : { user: (who & 0o400) !== 0, group: (who & 0o040) !== 0, other: (who & 0o004) !== 0 };
  out.push({
    op: from,
    bits: who === 0 ? MASK : 0xffff,
    set: op !== '-',
    clear: op !== '+',
    classes,
  });
}
