import type { LintFinding, LintRule, LintSeverity } from './lint-rules.ts';

/** A SARIF 2.1.0 log (OASIS SARIF v2.1.0, §3.13), as far as strata writes one. */
export interface SarifLog {
  readonly $schema: string;
  readonly version: '2.1.0';
  readonly runs: readonly SarifRun[];
}

/** One run of one tool (SARIF §3.14). */
export interface SarifRun {
  readonly tool: {
    readonly driver: {
      readonly name: string;
      readonly version: string;
      readonly rules: readonly SarifRule[];
    };
  };
  readonly results: readonly SarifResult[];
}

/** A reportingDescriptor (SARIF §3.49). */
export interface SarifRule {
  readonly id: string;
  readonly name: string;
  readonly shortDescription: { readonly text: string };
  readonly help: { readonly text: string };
  readonly defaultConfiguration: { readonly level: SarifLevel };
  readonly properties?: { readonly tags: readonly string[] };
}

/** A result (SARIF §3.27) with one physical location. */
export interface SarifResult {
  readonly ruleId: string;
  readonly ruleIndex: number;
  readonly level: SarifLevel;
  readonly message: { readonly text: string };
  readonly locations: readonly {
    readonly physicalLocation: {
      readonly artifactLocation: { readonly uri: string };
      readonly region: {
        readonly startLine: number;
        readonly startColumn: number;
        readonly endLine: number;
        readonly endColumn: number;
      };
    };
  }[];
}

/** SARIF's `level` values (§3.27.10). */
export type SarifLevel = 'error' | 'warning' | 'note';

function levelOf(severity: LintSeverity): SarifLevel {
  return severity === 'info' ? 'note' : severity;
}

/** `hadolint DL3032, DL3040` → `DL3032`, `DL3040`: tags a code-scanning search can find. */
function aliasTags(alias: string | undefined): string[] {
  return alias === undefined
    ? []
    : alias
        .split(/[ ,]+/)
        .filter((w) => /^(DL\d+|[A-Z][A-Za-z]+[a-z][A-Za-z]*)$/.test(w) && w !== 'BuildKit');
}

function pascalCase(id: string): string {
  return id.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

/**
 * Findings as a SARIF 2.1.0 log for GitHub code scanning (`github/codeql-action/upload-sarif`):
 * every rule in `tool.driver.rules`, each result with its rule index, level, message (the fix
 * appended) and a region with 1-based lines and columns. `uri` is the file as given to lint,
 * which should be relative to the repository root.
 */
export function toSarif(
  findings: readonly LintFinding[],
  rules: readonly LintRule[],
  options: { readonly version?: string } = {},
): SarifLog {
  const index = new Map(rules.map((r, i) => [r.id, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'strata',
            version: options.version ?? '0.1.0',
            rules: rules.map((r) => ({
              id: r.id,
              name: pascalCase(r.id),
              shortDescription: { text: r.title },
              help: {
                text: `${r.title}${r.alias ? ` (${r.alias})` : ''}. See docs/lint.md, section ${r.id}.`,
              },
              defaultConfiguration: { level: levelOf(r.severity) },
              properties: { tags: ['dockerfile', 'image-size', ...aliasTags(r.alias)] },
            })),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.ruleId,
          ruleIndex: index.get(f.ruleId) ?? -1,
          level: levelOf(f.severity),
          message: { text: `${f.message}. Fix: ${f.fix}` },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: f.file.replace(/^\.\//, '') },
                region: {
                  startLine: f.line,
                  startColumn: f.column,
                  endLine: f.endLine,
                  endColumn: Math.max(f.endColumn, 1),
                },
              },
            },
          ],
        })),
      },
    ],
  };
}
