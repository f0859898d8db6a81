// Put an engine error on the form field it is about: schema errors by their path, a clashing
// name on the name, a missing file on the path field that names it, a taken port on its row.
import type { UiError } from '../store/store';
import { fieldErrors } from '../store/errors';

export interface FieldContext {
  /** form field key → the path typed there */
  paths: Record<string, string>;
  /** host ports typed, by forward index */
  hostPorts: (number | undefined)[];
}

export function engineFieldErrors(err: UiError, ctx: FieldContext): Record<string, string> {
  const out = fieldErrors(err);
  const details = (err.details ?? {}) as { path?: unknown; hostPort?: unknown; port?: unknown; field?: unknown };
  if (typeof details.field === 'string' && !out[details.field]) out[details.field] = err.message;
  switch (err.code) {
    case 'NAME_TAKEN':
      out['name'] ??= err.message;
      break;
    case 'FILE_NOT_FOUND': {
      const entries = Object.entries(ctx.paths).filter(([, v]) => v);
      const named =
        entries.find(([, v]) => v === details.path) ?? entries.find(([, v]) => err.message.includes(v)) ?? entries[0];
      out[named ? named[0] : '_'] ??= err.message;
      break;
    }
    case 'PORT_TAKEN': {
      const port = typeof details.hostPort === 'number' ? details.hostPort : typeof details.port === 'number' ? details.port : Number(/\b(\d{2,5})\b/.exec(err.message)?.[1]);
      const i = ctx.hostPorts.findIndex((p) => p !== undefined && p === port);
      out[i >= 0 ? `forwards.${i}.hostPort` : 'forwards'] ??= err.message;
      break;
    }
    default:
      break;
  }
  return out;
}
