// The parts of the command line that become a VM config (`create`) or a patch (`set`): parsed
// and checked against the spec here, before an engine is touched, so a typo never starts one.
// Its own module because the spec's schemas (zod) are the largest code the CLI loads: run-cli
// imports this only for the commands that need it, and `flotilla list` does not pay for it.
import { readFile } from 'node:fs/promises';
import { FlotillaError, invalidArgument } from '../../shared/errors';
import { DEFAULT_ROOT_DISK_GIB, forwardSchema, SSH_PUBLIC_KEY_RE, vmConfigSchema, type Forward, type VmSource } from '../../shared/spec';
import { absPath, bad } from './args';
import { parseShareOption } from './share-command';

/** `GUEST[:HOST][/udp|/tcp]`, e.g. `22`, `80:8080`, `53/udp`. Ranges are the schema's, in its words. */
export function parseForward(text: string): Forward {
  const m = /^(\d{1,5})(?::(\d{1,5}))?(?:\/(tcp|udp))?$/.exec(text);
  if (!m) throw bad(`--forward ${JSON.stringify(text)} is not GUEST[:HOST][/udp], e.g. 22 or 80:8080 or 53/udp`);
  // 08080 is not 8080 to everyone (octal to some tools): refuse rather than guess
  for (const p of [m[1], m[2]]) {
    if (p !== undefined && p.length > 1 && p.startsWith('0')) throw bad(`--forward ${text}: write ports without leading zeros (${Number(p)}, not ${p})`);
  }
  const r = forwardSchema.safeParse({
    proto: m[3] ?? 'tcp',
    guestPort: Number(m[1]),
    ...(m[2] === undefined ? {} : { hostPort: Number(m[2]) }),
  });
  if (!r.success) throw bad(`--forward ${text}: ${r.error.issues[0]!.message}`);
  return r.data;
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

/** Pure part of `create`: turn CLI options into a vm.create config (validated again by the contract). */
export function createConfigFromArgs(name: string | undefined, o: Record<string, unknown>, cwd = process.cwd()): Record<string, unknown> {
  if (!name) throw new FlotillaError('BAD_REQUEST', 'create needs a NAME, e.g. `flotilla create web1`');
  const source = parseSource(
    o.from as string | undefined,
    {
      ...(o.initrd !== undefined ? { initrd: o.initrd as string } : {}),
      ...(o.append !== undefined ? { append: o.append as string } : {}),
      ...(o['disk-size'] !== undefined ? { diskSizeGiB: o['disk-size'] as number } : {}),
      ...(o['disk-mode'] !== undefined ? { diskMode: o['disk-mode'] as string } : {}),
      ...(o['kernel-disk'] !== undefined ? { kernelDisk: o['kernel-disk'] as string } : {}),
    },
    cwd,
  );
  const config: Record<string, unknown> = { name, source };
  if (o.cpus !== undefined) config.cpus = o.cpus;
  if (o.memory !== undefined) config.memoryMiB = o.memory;
  if (o.firmware !== undefined) config.firmware = o.firmware;
  if (o.display !== undefined) config.display = o.display;
  if (o.forward !== undefined) config.forwards = (o.forward as string[]).map(parseForward);
  // as in the create dialog: the built-in Linux comes with its SSH port forwarded (flotilla ssh)
  // not on a libvirt host (--host), which has no port forwards (its caps say so)
  else if (source.kind === 'default' && (o.host === undefined || o.host === 'local')) config.forwards = [{ proto: 'tcp', guestPort: 22 }];
  if (o.restart !== undefined) config.restartPolicy = o.restart;
  if (o['keep-running']) config.keepRunningOnQuit = true;
  if (o.autostart) config.autostart = true;
  if (o.share !== undefined) config.shares = (o.share as string[]).map((x) => parseShareOption(x, cwd));
  // the engine validates it again; checking here means a typo never starts an engine
  const r = vmConfigSchema.safeParse(config);
  if (!r.success) throw invalidArgument(r.error.issues);
  return config;
}

function onOff(option: string, v: string): boolean {
  if (v === 'on' || v === 'off') return v === 'on';
  throw new FlotillaError('BAD_REQUEST', `${option} must be on or off, got ${JSON.stringify(v)}`);
}

/** Pure part of `set`: CLI options to a vm.update patch (validated again by the contract). */
export function patchFromArgs(o: Record<string, unknown>): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  if (o.cpus !== undefined) patch.cpus = o.cpus;
  if (o.memory !== undefined) patch.memoryMiB = o.memory;
  if (o.name !== undefined) patch.name = o.name;
  if (o.forward !== undefined) patch.forwards = (o.forward as string[]).map(parseForward);
  if (o.display !== undefined) patch.display = o.display;
  if (o.firmware !== undefined) patch.firmware = o.firmware;
  if (o.restart !== undefined) patch.restartPolicy = o.restart;
  if (o.note !== undefined) patch.note = o.note;
  if (o['keep-running'] !== undefined) patch.keepRunningOnQuit = onOff('--keep-running', o['keep-running'] as string);
  if (o.autostart !== undefined) patch.autostart = onOff('--autostart', o.autostart as string);
  if (Object.keys(patch).length === 0) throw new FlotillaError('BAD_REQUEST', 'nothing to change: give at least one of --cpus --memory --name --forward --display --firmware --restart --keep-running --autostart --note');
  return patch;
}

/** The public keys of `--ssh-key FILE`s: every valid key line; a file without one is an error naming it. */
export async function readSshKeyFiles(files: string[]): Promise<string[]> {
  const keys: string[] = [];
  for (const f of files) {
    const text = await readFile(f, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new FlotillaError('FILE_NOT_FOUND', `--ssh-key ${f}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`, { path: f });
    });
    const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    const bad = lines.find((l) => !SSH_PUBLIC_KEY_RE.test(l));
    if (bad !== undefined || !lines.length) {
      throw new FlotillaError('BAD_REQUEST', `--ssh-key ${f} is not a public key file (give the .pub file, e.g. ~/.ssh/id_ed25519.pub)`);
    }
    keys.push(...lines);
  }
  return keys;
}
