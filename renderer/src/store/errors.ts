// Turn anything thrown by an Api call into the UiError a tile or form shows.
import { FlotillaError, fieldErrorsOf } from '../../../shared/errors';
import type { UiError } from './store';

export function toUiError(err: unknown, action?: string): UiError {
  const base: UiError =
    err instanceof FlotillaError
      ? { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) }
      : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
  return action ? { ...base, action } : base;
}

/** The fields of an INVALID_ARGUMENT by form key: the request's `config.`/`patch.` prefixes removed, `_` for the whole form. */
export function fieldErrors(err: UiError | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fieldErrorsOf(err)) {
    const key = f.path.replace(/^(config|patch)(\.|$)/, '') || '_';
    out[key] ??= f.message;
  }
  return out;
}
