/** Linux signal names moby/sys/signal knows (without the SIG prefix). */
const SIGNALS = new Set([
  'ABRT',
  'ALRM',
  'BUS',
  'CHLD',
  'CLD',
  'CONT',
  'FPE',
  'HUP',
  'ILL',
  'INT',
  'IO',
  'IOT',
  'KILL',
  'PIPE',
  'POLL',
  'PROF',
  'PWR',
  'QUIT',
  'SEGV',
  'STKFLT',
  'STOP',
  'SYS',
  'TERM',
  'TRAP',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'USR1',
  'USR2',
  'VTALRM',
  'WINCH',
  'XCPU',
  'XFSZ',
  'RTMIN',
  'RTMAX',
]);

/**
 * Whether STOPSIGNAL accepts a value, as moby's `signal.ParseSignal` does: a positive number, or a
 * signal name with or without `SIG` (`SIGTERM`, `term`, `RTMIN+3`).
 */
export function isValidStopSignal(value: string): boolean {
  if (/^\d+$/.test(value)) return Number(value) > 0;
  const name = value.toUpperCase().replace(/^SIG/, '');
  const rt = /^RT(MIN|MAX)([+-]\d+)?$/.exec(name);
  if (rt !== null) return true;
  return SIGNALS.has(name);
}
