// Put an engine error on the form field it is about, from the error's typed details (never its
// message): field errors by their path, an error naming its field on that field, a clashing name
// on the name, a missing or wrong file on the path field holding that path, a taken port on the
// forward row asking for it.
import type { ErrorCode, ErrorDetails, OnField } from '../../../shared/errors';
import type { UiError } from '../store/store';
import { fieldErrors } from '../store/errors';

export interface FieldContext {
  /** form field key → the path typed there */
  paths: Record<string, string>;
  /** host ports typed, by forward index */
  hostPorts: (number | undefined)[];
}

/** The details of `err` if it has `code` (details crossed the wire: trust their shape, check the fields used). */
function detailsOf<C extends ErrorCode>(err: UiError, code: C): Partial<NonNullable<ErrorDetails[C]>> | null {
  if (err.code !== code || !err.details || typeof err.details !== 'object') return null;
  return err.details as Partial<NonNullable<ErrorDetails[C]>>;
}

export function engineFieldErrors(err: UiError, ctx: FieldContext): Record<string, string> {
  const out = fieldErrors(err);
  // an error that names its form field (OnField in shared/errors.ts: a host's URI, a key file)
  const onField = (err.details as OnField | undefined)?.field;
  if (typeof onField === 'string') out[onField] ??= err.message;
  if (err.code === 'NAME_TAKEN') out['name'] ??= err.message;
  const file = detailsOf(err, 'FILE_NOT_FOUND') ?? detailsOf(err, 'WRONG_FILE_TYPE');
  if (file) {
    const named = Object.entries(ctx.paths).find(([, v]) => v && v === file.path);
    out[named ? named[0] : '_'] ??= err.message;
  }
  const port = detailsOf(err, 'PORT_TAKEN');
  if (port) {
    const i = ctx.hostPorts.findIndex((p) => p !== undefined && p === port.hostPort);
    out[i >= 0 ? `forwards.${i}.hostPort` : 'forwards'] ??= err.message;
  }
  return out;
}
