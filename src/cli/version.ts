/** strata's version, as `--version` and `strata info` print it. */
export const STRATA_VERSION = '0.1.0';
