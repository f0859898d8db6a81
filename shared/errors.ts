// Error codes that cross every transport (IPC, WebSocket, engine socket) as
// `{ code, message, details? }`, and the typed error both sides rebuild from them.

export const ERROR_CODES = [
  'BAD_REQUEST', // request failed schema validation
  'UNKNOWN_METHOD',
  'NOT_FOUND', // no VM with that id/name
  'NAME_TAKEN',
  'INVALID_STATE', // e.g. start while running
  'ALREADY_RUNNING',
  'FILE_NOT_FOUND', // a user-named path is missing or unreadable
  'PORT_TAKEN', // a user-requested host port is in use
  'PORTS_EXHAUSTED',
  'QEMU_FAILED', // QEMU exited or refused during start
  'ABORTED', // cut short by another operation (a start by a force stop) or cancelled by the user
  'QMP_ERROR',
  'AGENT_UNAVAILABLE',
  'AGENT_ERROR',
  'TIMEOUT',
  'IMAGE_ERROR', // qemu-img failed
  'DEFAULT_IMAGE_MISSING',
  'ENGINE_BUSY', // another engine owns the data directory
  'UNAUTHORIZED',
  'UNSUPPORTED', // not available in this shell (e.g. native file picker in a browser)
  'DISCONNECTED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface WireError {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export class FlotillaError extends Error {
  override readonly name = 'FlotillaError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  toWire(): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromWire(e: WireError): FlotillaError {
    return new FlotillaError(e.code, e.message, e.details);
  }
}

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && (ERROR_CODES as readonly string[]).includes(v);
}

/** Turn anything thrown into a wire error. Unknown errors become INTERNAL with their message. */
export function toWireError(err: unknown): WireError {
  if (err instanceof FlotillaError) return err.toWire();
  if (err && typeof err === 'object' && 'code' in err && isErrorCode((err as { code: unknown }).code)) {
    const e = err as { code: ErrorCode; message?: unknown; details?: unknown };
    return { code: e.code, message: String(e.message ?? e.code), ...(e.details === undefined ? {} : { details: e.details }) };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'INTERNAL', message };
}

/** Validate an untrusted wire error (from a peer) before rebuilding it. */
export function parseWireError(v: unknown): WireError {
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (isErrorCode(o.code) && typeof o.message === 'string') {
      return o.details === undefined ? { code: o.code, message: o.message } : { code: o.code, message: o.message, details: o.details };
    }
  }
  return { code: 'INTERNAL', message: 'malformed error from peer' };
}
