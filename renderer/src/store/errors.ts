// Turn anything thrown by an Api call into the UiError a tile or form shows.
import { FlotillaError } from '../../../shared/errors';
import type { UiError } from './store';

export function toUiError(err: unknown, action?: string): UiError {
  const base: UiError =
    err instanceof FlotillaError
      ? { code: err.code, message: err.message, ...(err.details === undefined ? {} : { details: err.details }) }
      : { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
  return action ? { ...base, action } : base;
}

/** `details.fields` of a BAD_REQUEST, with the request's `config.`/`patch.` prefixes removed. */
export function fieldErrors(err: UiError | null): Record<string, string> {
  if (!err) return {};
  const d = err.details as { fields?: unknown } | undefined;
  const out: Record<string, string> = {};
  if (d && typeof d === 'object' && d.fields && typeof d.fields === 'object') {
    for (const [k, v] of Object.entries(d.fields as Record<string, unknown>)) {
      if (typeof v === 'string') out[k.replace(/^(config|patch)\./, '')] = v;
    }
  }
  return out;
}
