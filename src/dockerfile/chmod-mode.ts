const OCTAL_MODE = /^[0-7]+$/;
const SYMBOLIC_MODE = /^[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+(?:,[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+)*$/;

/**
 * Whether a `--chmod` value is one BuildKit accepts: an octal mode up to 07777, or a symbolic one
 * (`u=rwX,go=rX`) that does not start with a digit.
 */
export function isValidChmod(value: string): boolean {
  if (OCTAL_MODE.test(value)) return Number.parseInt(value, 8) <= 0o7777;
  return !/^\d/.test(value) && SYMBOLIC_MODE.test(value);
}

/** BuildKit's message for a `--chmod` value {@link isValidChmod} refuses. */
export function invalidChmodMessage(value: string): string {
  return `invalid chmod parameter: '${value}'. it should be octal string and between 0 and 07777`;
}
