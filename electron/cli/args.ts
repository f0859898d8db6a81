// A small argument parser for the `flotilla` CLI (no dependencies): long options with
// values (`--cpus 2` or `--cpus=2`), booleans, repeatable options, positionals, and
// everything after `--` kept verbatim (for `exec`). Unknown options are errors that name
// the option and the command, so a typo never silently does something else.
import { isAbsolute, resolve } from 'node:path';
import { LOCAL_HOST } from '../../shared/contract-names';
import { FlotillaError } from '../../shared/errors';
import { optionHint } from './suggest';

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

export function bad(message: string): FlotillaError {
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
      if (a.startsWith('-') && a !== '-') throw bad(`unknown option ${a} for \`flotilla ${command}\` (options are spelled --name)${optionHint(a.slice(1), Object.keys(spec), command)}`);
      out.positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const opt = spec[name];
    if (!opt) throw bad(`unknown option --${name} for \`flotilla ${command}\`${optionHint(name, Object.keys(spec), command)}`);
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
      // a sign is let through: the schema then says what range is allowed ("at least 1"), which is
      // more use than "not a number" for `--disk-size -1`
      if (typeof value !== 'string' || !/^-?\d{1,15}$/.test(value)) throw bad(`--${name} must be a whole number, not ${JSON.stringify(value)}`);
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

/** Relative paths are the user's shorthand for paths from the current directory. */
export function absPath(p: string, cwd = process.cwd()): string {
  return isAbsolute(p) ? p : resolve(cwd, p);
}

/** A path on the VM's host: this computer's resolves against the working directory; another host's must be absolute. */
export function pathOnHost(p: string, host: string, cwd = process.cwd()): string {
  if (host === LOCAL_HOST || isAbsolute(p)) return absPath(p, cwd);
  throw new FlotillaError('BAD_REQUEST', `${p} is a relative path; give its absolute path on host ${host}`);
}
