import { StrataError } from '../util/index.ts';

/** One entry of a registry's error body (distribution spec, "Error Codes"). */
export interface RegistryDiagnostic {
  /** e.g. `MANIFEST_UNKNOWN`, `BLOB_UNKNOWN`, `UNAUTHORIZED`, `DENIED`, `TOOMANYREQUESTS`. */
  readonly code: string;
  readonly message: string;
  readonly detail?: unknown;
}

/** What {@link RegistryError} is built from. */
export interface RegistryErrorOptions {
  /** HTTP status, when the registry answered. */
  readonly status?: number;
  readonly diagnostics?: readonly RegistryDiagnostic[];
  /** True when trying again later may succeed (5xx, 429, a dropped connection). */
  readonly temporary?: boolean;
  readonly cause?: unknown;
  readonly hint?: string;
}

/**
 * A registry refused or failed a request. `status` is the HTTP status (absent for a network
 * failure), `diagnostics` the spec's error list from the body, `temporary` whether a retry may
 * help. Codes: `REGISTRY_UNAUTHORIZED` (401), `REGISTRY_DENIED` (403), `REGISTRY_NOT_FOUND` (404),
 * `REGISTRY_UNREACHABLE` (network), `REGISTRY` (anything else). Messages never hold credentials.
 */
export class RegistryError extends StrataError {
  readonly status: number | undefined;
  readonly diagnostics: readonly RegistryDiagnostic[];
  readonly temporary: boolean;

  constructor(message: string, options: RegistryErrorOptions = {}) {
    super(registryErrorCode(options.status), message, {
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
      ...(options.hint !== undefined ? { hint: options.hint } : {}),
    });
    this.status = options.status;
    this.diagnostics = options.diagnostics ?? [];
    this.temporary = options.temporary ?? isTemporaryStatus(options.status);
  }
}

function registryErrorCode(status: number | undefined): string {
  if (status === undefined) return 'REGISTRY_UNREACHABLE';
  if (status === 401) return 'REGISTRY_UNAUTHORIZED';
  if (status === 403) return 'REGISTRY_DENIED';
  if (status === 404) return 'REGISTRY_NOT_FOUND';
  return 'REGISTRY';
}

/** True for statuses worth retrying: 408, 429 and 5xx except 501 (Not Implemented) and 505. */
export function isTemporaryStatus(status: number | undefined): boolean {
  if (status === undefined) return true;
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/**
 * Parses a registry error body (`{"errors":[{"code","message","detail"}]}`); anything else yields
 * no diagnostics. Bodies are read by the caller with a size cap.
 */
export function parseDiagnostics(body: string): RegistryDiagnostic[] {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null) return [];
    const errors = (parsed as { errors?: unknown }).errors;
    if (!Array.isArray(errors)) return [];
    return errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({
        code: typeof e.code === 'string' ? e.code : 'UNKNOWN',
        message: typeof e.message === 'string' ? e.message : '',
        ...(e.detail !== undefined ? { detail: e.detail } : {}),
      }));
  } catch {
    return []; // not JSON (an HTML error page from a proxy): the status says enough
  }
}

/** `MANIFEST_UNKNOWN: manifest unknown; …` for a message, or the HTTP reason when there is no body. */
export function describeDiagnostics(status: number, diagnostics: readonly RegistryDiagnostic[]): string {
  if (diagnostics.length === 0) return `${status} ${STATUS_TEXT[status] ?? 'error'}`;
  return `${status} ${diagnostics.map((d) => (d.message ? `${d.code}: ${d.message}` : d.code)).join('; ')}`;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'bad request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not found',
  405: 'method not allowed',
  408: 'request timeout',
  409: 'conflict',
  413: 'payload too large',
  416: 'range not satisfiable',
  429: 'too many requests',
  500: 'internal server error',
  502: 'bad gateway',
  503: 'service unavailable',
  504: 'gateway timeout',
};
