// A small argument parser for the `flotilla` CLI (no dependencies): long options with
// values (`--cpus 2` or `--cpus=2`), booleans, repeatable options, positionals, and
// everything after `--` kept verbatim (for `exec`). Unknown options are errors that name
// the option and the command, so a typo never silently does something else.
import { isAbsolute, resolve } from 'node:path';
import { FlotillaError } from '../../shared/errors';
import { DEFAULT_ROOT_DISK_GIB, type Forward, type VmSource } from '../../shared/spec';

export type OptionKind = 'bool' | 'string' | 'int';

export interface OptionSpec {
  kind: OptionKind;
  multi?: boolean;
}

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | number | boolean | (string | number)[]>;
  /** arguments after `--` */
  rest: string[];
}

function bad(message: string): FlotillaError {
  return new FlotillaError('BAD_REQUEST', message);
}

export function parseArgs(argv: readonly string[], spec: Record<string, OptionSpec>, command: string): ParsedArgs {
  const out: ParsedArgs = { positionals: [], options: {}, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.rest = argv.slice(i + 1);
      break;
    }
    if (!a.startsWith('--') || a === '-') {
      if (a.startsWith('-') && a !== '-') throw bad(`unknown option ${a} for \`flotilla ${command}\` (options are spelled --name)`);
      out.positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const opt = spec[name];
    if (!opt) throw bad(`unknown option --${name} for \`flotilla ${command}\``);
    let value: string | boolean;
    if (opt.kind === 'bool') {
      if (eq >= 0) throw bad(`--${name} takes no value`);
      value = true;
    } else if (eq >= 0) {
      value = a.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || next === '--') throw bad(`--${name} needs a value`);
      value = next;
      i++;
    }
    let v: string | number | boolean = value;
    if (opt.kind === 'int') {
      if (typeof value !== 'string' || !/^\d+$/.test(value)) throw bad(`--${name} must be a whole number, not ${JSON.stringify(value)}`);
      v = Number(value);
    }
    if (opt.multi) {
      const list = (out.options[name] as (string | number)[] | undefined) ?? [];
      list.push(v as string | number);
      out.options[name] = list;
    } else {
      if (name in out.options) throw bad(`--${name} given twice`);
      out.options[name] = v;
    }
  }
  return out;
}

/** `GUEST[:HOST][/udp|/tcp]`, e.g. `22`, `80:8080`, `53/udp`. */
export function parseForward(text: string): Forward {
  const m = /^(\d{1,5})(?::(\d{1,5}))?(?:\/(tcp|udp))?$/.exec(text);
  if (!m) throw bad(`--forward ${JSON.stringify(text)} is not GUEST[:HOST][/udp], e.g. 22 or 80:8080 or 53/udp`);
  const guestPort = Number(m[1]);
  const hostPort = m[2] === undefined ? undefined : Number(m[2]);
  if (guestPort < 1 || guestPort > 65535) throw bad(`--forward ${text}: guest port must be 1–65535`);
  if (hostPort !== undefined && (hostPort < 1024 || hostPort > 65535)) throw bad(`--forward ${text}: host port must be 1024–65535`);
  return { proto: (m[3] as 'tcp' | 'udp' | undefined) ?? 'tcp', guestPort, ...(hostPort === undefined ? {} : { hostPort }) };
}

/** Relative paths are the user's shorthand for paths from the current directory. */
export function absPath(p: string, cwd = process.cwd()): string {
  return isAbsolute(p) ? p : resolve(cwd, p);
}

/** `--from default|iso:PATH|disk:PATH|kernel:PATH` plus the options that refine it. */
export function parseSource(
  from: string | undefined,
  extra: { initrd?: string; append?: string; diskSizeGiB?: number; diskMode?: string; kernelDisk?: string },
  cwd = process.cwd(),
): VmSource {
  const text = from ?? 'default';
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const path = colon < 0 ? '' : text.slice(colon + 1);
  const needPath = (): string => {
    if (!path) throw bad(`--from ${kind}: needs a path, e.g. --from ${kind}:/path/to/file`);
    return absPath(path, cwd);
  };
  const kernelOnly = (): void => {
    if (kind !== 'kernel' && (extra.initrd !== undefined || extra.append !== undefined || extra.kernelDisk !== undefined)) {
      throw bad('--initrd, --append and --kernel-disk only apply to --from kernel:PATH');
    }
  };
  kernelOnly();
  if (extra.diskSizeGiB !== undefined && kind !== 'iso' && kind !== 'default') throw bad('--disk-size only applies to --from default and --from iso:PATH');
  if (extra.diskMode !== undefined && kind !== 'disk') throw bad('--disk-mode only applies to --from disk:PATH');
  switch (kind) {
    case 'default':
      if (path) throw bad('--from default takes no path');
      return { kind: 'default', diskSizeGiB: extra.diskSizeGiB ?? DEFAULT_ROOT_DISK_GIB };
    case 'iso':
      return { kind: 'iso', path: needPath(), diskSizeGiB: extra.diskSizeGiB ?? 16 };
    case 'disk': {
      const mode = extra.diskMode ?? 'copy';
      if (mode !== 'copy' && mode !== 'reference') throw bad('--disk-mode must be copy or reference');
      return { kind: 'disk', path: needPath(), mode };
    }
    case 'kernel':
      return {
        kind: 'kernel',
        kernel: needPath(),
        ...(extra.initrd !== undefined ? { initrd: absPath(extra.initrd, cwd) } : {}),
        ...(extra.append !== undefined ? { append: extra.append } : {}),
        ...(extra.kernelDisk !== undefined ? { disk: absPath(extra.kernelDisk, cwd) } : {}),
      };
    default:
      throw bad(`--from must be default, iso:PATH, disk:PATH or kernel:PATH (got ${JSON.stringify(text)})`);
  }
}
