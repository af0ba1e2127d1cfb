import { StrataError } from '../util/index.ts';

/**
 * strata slim could not prove the final stage has what the program needs: it names each missing
 * fact and writes nothing (`--force` writes the rewrite marked unverified instead).
 */
export class SlimUnprovenError extends StrataError {
  constructor(
    file: string,
    readonly missing: readonly string[],
  ) {
    super(
      'SLIM_UNPROVEN',
      `cannot prove a slim rewrite of ${file} works; nothing written. Missing facts:\n${missing.map((m) => `  - ${m}`).join('\n')}`,
      {
        hint: 'fix the Dockerfile (e.g. an exec-form CMD that runs the program itself), or pass --force to write the rewrite marked unverified',
      },
    );
  }
}
