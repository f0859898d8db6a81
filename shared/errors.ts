// Error codes that cross every transport (IPC, WebSocket, engine socket) as
// `{ code, message, details? }`, and the typed error both sides rebuild from them. Each code's
// details have one shape (`ErrorDetails`), so a UI or the CLI reads fields (which form field,
// which port, which file) and never parses a message.

export const ERROR_CODES = [
  'BAD_REQUEST', // a malformed request or command line (no details)
  'INVALID_ARGUMENT', // a value the user chose is not allowed: per-field messages in plain words
  'UNKNOWN_METHOD',
  'NOT_FOUND', // no VM with that id/name
  'NAME_TAKEN',
  'INVALID_STATE', // e.g. start while running
  'ALREADY_RUNNING',
  'FILE_NOT_FOUND', // a user-named path is missing or unreadable
  'WRONG_FILE_TYPE', // a user-named file is not what it was named as (an ISO that is not ISO 9660, an empty file)
  'DISK_FULL', // no space left (or quota exceeded) writing a file of the data directory
  'PORT_TAKEN', // a user-requested host port is in use
  'PORTS_EXHAUSTED',
  'QEMU_FAILED', // QEMU exited or refused during start
  'ABORTED', // cut short by another operation (a start by a force stop) or cancelled by the user
  'QMP_ERROR',
  'AGENT_UNAVAILABLE',
  'AGENT_ERROR',
  'TIMEOUT',
  'IMAGE_ERROR', // qemu-img failed
  'FILE_EXISTS', // a file the user named as a destination exists (and no --force)
  'BAD_ARCHIVE', // an import archive is not a Flotilla export, is truncated, tampered with or unsafe
  'CANCELLED', // a long job was cancelled
  'DEFAULT_IMAGE_MISSING',
  'ENGINE_BUSY', // another engine owns the data directory
  'UNAUTHORIZED',
  'UNSUPPORTED', // not available in this shell (e.g. native file picker in a browser)
  'DISCONNECTED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** One field the user got wrong: `path` is the request's field path (`config.memoryMiB`), `message` plain words without it. */
export interface FieldError {
  path: string;
  message: string;
}

/** What a user-named file was supposed to be. */
export type FileRole = 'iso' | 'disk' | 'kernel' | 'initrd' | 'file' | 'dir';

/** `field`: the form field (request key) an error is about, where the message alone does not say. */
export interface OnField {
  field?: string;
}

/** An error a host's own tool reported (virsh on a libvirt host): which host, which command. */
export interface HostToolDetails {
  host: string;
  command?: string;
}

/** Why a libvirt host could not be reached or used. */
export type HostFailure = 'unreachable' | 'auth-failed' | 'host-key-unknown' | 'host-key-not-offered' | 'host-key-changed' | 'no-libvirtd';

/** The ssh host key a host offers on a first connection, for the question "trust it?". */
export interface HostKeyOffer {
  /** ED25519, ECDSA or RSA */
  type: string;
  /** as `ssh-keygen -l` prints it: SHA256:… */
  fingerprint: string;
}

/** The details each error code carries (`undefined`: none). */
export interface ErrorDetails {
  /** file: a configuration file that could not be used; path/owner/mode: a data directory that is not safe to use */
  BAD_REQUEST: (OnField & { file?: string; path?: string; owner?: number; mode?: number }) | undefined;
  INVALID_ARGUMENT: { fields: FieldError[] };
  UNKNOWN_METHOD: undefined;
  /** host: the host id (and id: the VM there) when it is known which host was asked */
  NOT_FOUND: (HostToolDetails & { id?: string }) | undefined;
  /** name: the name that is taken */
  NAME_TAKEN: OnField & { name?: string; host?: string; command?: string };
  /** linkedClones: the clones whose base this VM's disk is; path: the file that makes the state wrong */
  INVALID_STATE: { host?: string; command?: string; linkedClones?: string[]; path?: string; broken?: boolean } | undefined;
  ALREADY_RUNNING: undefined;
  FILE_NOT_FOUND: OnField & { path: string };
  WRONG_FILE_TYPE: { path: string; expected: FileRole; found: string | null };
  DISK_FULL: { path: string };
  /** usedBy: the VM (name, or id where only that is known) holding the port; absent when another program holds it */
  PORT_TAKEN: { hostPort: number; proto: 'tcp' | 'udp'; usedBy?: string };
  PORTS_EXHAUSTED: undefined;
  QEMU_FAILED: { logTail: string[] } | undefined;
  ABORTED: undefined;
  /** class: QMP's error class; errno: when the socket could not be reached */
  QMP_ERROR: { class?: string; desc?: string; errno?: string } | undefined;
  AGENT_UNAVAILABLE: HostToolDetails | undefined;
  AGENT_ERROR: { class?: string } | undefined;
  TIMEOUT: { host?: string; command?: string; reason?: HostFailure } | undefined;
  IMAGE_ERROR: { path?: string; stderr?: string; exitCode?: number | null } | undefined;
  /** path: the destination that exists */
  FILE_EXISTS: { path: string };
  /** path: the archive; entry: the member at fault, when one is */
  BAD_ARCHIVE: { path: string; entry?: string; [k: string]: unknown };
  CANCELLED: undefined;
  DEFAULT_IMAGE_MISSING: undefined;
  ENGINE_BUSY: undefined;
  /** hostKey: with host-key-unknown, the key the host offers (host.add trusts it by its fingerprint) */
  UNAUTHORIZED: { host?: string; reason?: HostFailure; hostKey?: HostKeyOffer } | undefined;
  /** host (and what): set when a host (or a VM's backend) lacks the operation */
  UNSUPPORTED: (OnField & { host?: string; what?: string; diskOnly?: boolean }) | undefined;
  DISCONNECTED: { host?: string; command?: string; reason?: HostFailure } | undefined;
  INTERNAL: HostToolDetails | undefined;
}

// every code has a details entry, and nothing else does
const detailsCoverCodes: [ErrorCode] extends [keyof ErrorDetails] ? ([keyof ErrorDetails] extends [ErrorCode] ? true : false) : false = true;
void detailsCoverCodes;

export interface WireError {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

/** Arguments after the message: the details, required where the code's details are. */
type DetailsArg<C extends ErrorCode> = undefined extends ErrorDetails[C] ? [details?: ErrorDetails[C]] : [details: ErrorDetails[C]];

export class FlotillaError<C extends ErrorCode = ErrorCode> extends Error {
  override readonly name = 'FlotillaError';
  /** required by the constructor where the code's details are, so this is exactly the code's type */
  readonly details: ErrorDetails[C];
  constructor(
    readonly code: C,
    message: string,
    ...details: DetailsArg<C>
  ) {
    super(message);
    this.details = details[0] as ErrorDetails[C];
  }

  /** Narrow to one code, so its details are typed: `if (err.is('PORT_TAKEN')) err.details.hostPort`. */
  is<K extends ErrorCode>(code: K): this is FlotillaError<K> & { details: ErrorDetails[K] } {
    return (this.code as ErrorCode) === code;
  }

  toWire(): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  /** Details from a peer are trusted only as far as their declared shape (see parseWireError). */
  static fromWire(e: WireError): FlotillaError {
    return new (FlotillaError as new (code: ErrorCode, message: string, details?: unknown) => FlotillaError)(e.code, e.message, e.details);
  }
}

/**
 * An INVALID_ARGUMENT from validation issues (zod's, or hand-made): one FieldError per field
 * (the first issue of each), and a message made of the plain-words field messages, no paths.
 */
export function invalidArgument(issues: readonly { path: readonly PropertyKey[]; message: string }[]): FlotillaError<'INVALID_ARGUMENT'> {
  const fields: FieldError[] = [];
  for (const i of issues) {
    const path = i.path.map(String).join('.');
    if (!fields.some((f) => f.path === path)) fields.push({ path, message: i.message });
  }
  const message = [...new Set(fields.map((f) => f.message))].join('; ') || 'invalid request';
  return new FlotillaError('INVALID_ARGUMENT', message, { fields });
}

/** Field errors of an INVALID_ARGUMENT (or a NAME_TAKEN, which is about the name), else none. */
export function fieldErrorsOf(err: { code: string; details?: unknown } | null | undefined): FieldError[] {
  if (!err) return [];
  const d = err.details as { fields?: unknown; name?: unknown } | undefined;
  if (err.code === 'INVALID_ARGUMENT' && Array.isArray(d?.fields)) {
    return d.fields.filter((f): f is FieldError => !!f && typeof (f as FieldError).path === 'string' && typeof (f as FieldError).message === 'string');
  }
  return [];
}

/** An error that means the engine (not a remote host, not the guest) went away. */
export function isEngineLost(err: unknown): err is FlotillaError<'DISCONNECTED'> {
  return err instanceof FlotillaError && err.is('DISCONNECTED') && !err.details?.host;
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
