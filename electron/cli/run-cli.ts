// The `flotilla` commands. Each command is a few contract calls through openEngine(): a
// client of the running engine, or (when none runs) a short-lived engine of its own that
// lets go of its VMs on exit (they keep running, detached, and are adopted later).
// Errors are one line on stderr and exit code 1; --json prints the contract DTOs.
import { resolve as resolvePath } from 'node:path';
import { EventEmitter } from 'node:events';
import { constants as osConstants } from 'node:os';
import type { CallContext, ContractHandler, EventName, EventPayloads, HostVolume, Method, MethodRequest, MethodResult, VmInfo } from '../../shared/contract';
import { EXEC_STDIN_MAX_BYTES } from '../../shared/contract-names';
import { FlotillaError, isEngineLost, toWireError } from '../../shared/errors';
import { openEngine, type OpenedEngine } from '../engine/open-engine';
import { ENGINE_VERSION } from '../engine/version';
import { flotillaHome } from '../engine/paths';
import { absPath, parseArgs, pathOnHost, type OptionSpec } from './args';
import { commandHint } from './suggest';
import { bashCompletion, COMPLETE_VMS_COMMAND, zshCompletion } from './completion';
import { formatEngineInfo, formatHosts, formatInfo, formatJson, formatList, formatPorts, formatVolumes } from './format';
import { commandHelp, overview } from './help';
import { TerminalTextFilter, terminalText } from '../../shared/terminal-text';
import { hostKeyCheckCommand, shellQuote, SSH_FINGERPRINT_RE } from '../../shared/ssh-command';

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** stderr is a terminal: a long command may keep a progress line there */
  errIsTty?: boolean;
  /** stdout is a terminal: a guest's console output goes to it without its queries (terminal-text.ts) */
  outIsTty?: boolean;
}

const realIo: CliIo = { out: (s) => void process.stdout.write(s), err: (s) => void process.stderr.write(s), errIsTty: process.stderr.isTTY === true, outIsTty: process.stdout.isTTY === true };

/** After the engine is lost, how long a command waits for one to come back before becoming it. */
export const RECONNECT_CLIENT_ONLY_MS = 5_000;

/** A contract session for one CLI run: validation and error shaping identical to every transport. */
export class CliSession {
  readonly events = new EventEmitter();
  private readonly closers: (() => void)[] = [];
  private readonly ctx: CallContext;
  private offBroadcast: (() => void) | null = null;

  constructor(
    private current: OpenedEngine,
    private readonly reopen: (clientOnlyMs: number) => Promise<OpenedEngine> = (clientOnlyMs) => openEngine({ shell: 'cli', clientOnlyMs }),
  ) {
    this.events.setMaxListeners(0);
    this.ctx = {
      clientId: `cli-${process.pid}`,
      emit: (event, payload) => this.events.emit(event, payload),
      onClose: (cb) => void this.closers.push(cb),
    };
  }

  get opened(): OpenedEngine {
    return this.current;
  }

  get handler(): ContractHandler {
    return this.current.handler;
  }

  /**
   * The engine this command talked to went away (`lost`): connect to the next one, or after
   * RECONNECT_CLIENT_ONLY_MS become it, as a command does when none runs. A command that is the
   * engine has nothing to reconnect to: `lost` is thrown.
   */
  async reconnect(lost: FlotillaError, io: CliIo): Promise<void> {
    if (this.current.role !== 'client') throw lost;
    io.err(`flotilla: ${lost.message}; waiting for the engine to come back\n`);
    await this.current.close().catch(() => undefined);
    this.current = await this.reopen(RECONNECT_CLIENT_ONLY_MS);
    if (this.offBroadcast) {
      this.offBroadcast();
      this.offBroadcast = this.handler.onEvent((e, p) => this.events.emit(e, p));
    }
    io.err(`flotilla: ${this.current.role === 'client' ? 'connected to the engine again' : 'no engine came back: this command runs one'}\n`);
  }

  async call<M extends Method>(method: M, req: MethodRequest<M>): Promise<MethodResult<M>> {
    if (this.opened.role === 'client') {
      // A running engine validates the call (shared/rpc.ts dispatch, on its side of the socket)
      // and answers with the same wire errors; validating here too would load the schemas for
      // nothing. Errors are rebuilt from their wire form as dispatch's are.
      try {
        return await this.handler.handle(method, req as never, this.ctx);
      } catch (err) {
        throw FlotillaError.fromWire(toWireError(err));
      }
    }
    const { dispatch } = await import('../../shared/rpc');
    const env = await dispatch(this.handler, method, req, this.ctx);
    if (!env.ok) throw FlotillaError.fromWire(env.error);
    return env.value as MethodResult<M>;
  }

  on<E extends EventName>(event: E, cb: (p: EventPayloads[E]) => void): void {
    if (!this.offBroadcast) this.offBroadcast = this.handler.onEvent((e, p) => this.events.emit(e, p));
    this.events.on(event, cb as (p: unknown) => void);
  }

  /**
   * A call that only reads, asked again of the next engine when this one is lost meanwhile
   * (reconnect): a command that outlasts its engine (cp, export, import, clone) must do so from
   * its first call, not only once its job runs. An engine killed while such a command looked its
   * VM up made it fail with "connection to the engine was lost" (reliability check 21, once).
   */
  async read<M extends Method>(method: M, req: MethodRequest<M>, io: CliIo): Promise<MethodResult<M>> {
    for (;;) {
      try {
        return await this.call(method, req);
      } catch (err) {
        if (!isEngineLost(err)) throw err;
        await this.reconnect(err, io);
      }
    }
  }

  /** The VM named (or with the id) `nameOrId`; with `io`, found on the next engine if this one is lost meanwhile. */
  async find(nameOrId: string | undefined, host?: unknown, io?: CliIo): Promise<VmInfo> {
    if (!nameOrId) throw new FlotillaError('BAD_REQUEST', 'which VM? give its NAME');
    const req = { nameOrId, ...(typeof host === 'string' ? { host } : {}) };
    return io ? this.read('vm.find', req, io) : this.call('vm.find', req);
  }

  async close(): Promise<void> {
    this.offBroadcast?.();
    for (const c of this.closers.splice(0)) c();
    await this.current.close();
  }
}

const JSON_OPT: Record<string, OptionSpec> = { json: { kind: 'bool' } };

const HOST_OPT: Record<string, OptionSpec> = { host: { kind: 'string' } };

export const COMMAND_OPTIONS: Record<string, Record<string, OptionSpec>> = {
  list: { ...JSON_OPT, ...HOST_OPT },
  create: {
    ...JSON_OPT,
    ...HOST_OPT,
    from: { kind: 'string' },
    initrd: { kind: 'string' },
    append: { kind: 'string' },
    'kernel-disk': { kind: 'string' },
    'disk-mode': { kind: 'string' },
    cpus: { kind: 'int' },
    memory: { kind: 'int' },
    'disk-size': { kind: 'int' },
    firmware: { kind: 'string' },
    display: { kind: 'string' },
    forward: { kind: 'string', multi: true },
    restart: { kind: 'string' },
    'keep-running': { kind: 'bool' },
    autostart: { kind: 'bool' },
    'ssh-key': { kind: 'string', multi: true },
    share: { kind: 'string', multi: true },
    start: { kind: 'bool' },
  },
  start: { ...JSON_OPT, ...HOST_OPT, 'wait-agent': { kind: 'bool' } },
  stop: { ...JSON_OPT, ...HOST_OPT, force: { kind: 'bool' } },
  restart: { ...JSON_OPT, ...HOST_OPT },
  pause: { ...JSON_OPT, ...HOST_OPT },
  resume: { ...JSON_OPT, ...HOST_OPT },
  rm: { ...JSON_OPT, ...HOST_OPT, storage: { kind: 'bool' } },
  info: { ...JSON_OPT, ...HOST_OPT },
  ports: JSON_OPT,
  logs: { ...HOST_OPT, serial: { kind: 'bool' }, follow: { kind: 'bool' }, tail: { kind: 'int' } },
  exec: { ...HOST_OPT, stdin: { kind: 'bool' } },
  cp: HOST_OPT,
  console: HOST_OPT,
  host: { ...JSON_OPT, identity: { kind: 'string' }, 'trust-host-key': { kind: 'string' }, kind: { kind: 'string' } },
  ssh: { ...HOST_OPT, identity: { kind: 'string' } },
  image: { out: { kind: 'string' } },
  export: { ...HOST_OPT, force: { kind: 'bool' } },
  set: {
    ...JSON_OPT,
    ...HOST_OPT,
    cpus: { kind: 'int' },
    memory: { kind: 'int' },
    name: { kind: 'string' },
    forward: { kind: 'string', multi: true },
    display: { kind: 'string' },
    firmware: { kind: 'string' },
    restart: { kind: 'string' },
    'keep-running': { kind: 'string' },
    autostart: { kind: 'string' },
    note: { kind: 'string' },
  },
  disk: { ...JSON_OPT, ...HOST_OPT, disk: { kind: 'string' } },
  media: { ...JSON_OPT, ...HOST_OPT },
  share: { ...JSON_OPT, ...HOST_OPT, tag: { kind: 'string' }, 'read-only': { kind: 'bool' } },
  snapshot: { ...JSON_OPT, ...HOST_OPT, 'disk-only': { kind: 'bool' } },
  import: { ...JSON_OPT, ...HOST_OPT, name: { kind: 'string' }, start: { kind: 'bool' } },
  clone: { ...JSON_OPT, ...HOST_OPT, linked: { kind: 'bool' }, start: { kind: 'bool' } },
  help: {},
  completion: {},
  [COMPLETE_VMS_COMMAND]: {},
};

/** The commands a user can type (for "did you mean"). */
function commandNames(): string[] {
  return [...Object.keys(COMMAND_OPTIONS), 'serve'].filter((c) => c !== COMPLETE_VMS_COMMAND);
}

/** On stderr, also with --json (whose stdout stays the DTO, warnings included). */
function printWarnings(io: CliIo, warnings: readonly string[] | undefined): void {
  for (const w of warnings ?? []) io.err(`flotilla: warning: ${w}\n`);
}

/** All of this process's standard input, for `exec --stdin`: any bytes, at most 1 MiB. */
async function readStdinBytes(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > EXEC_STDIN_MAX_BYTES) throw new FlotillaError('BAD_REQUEST', `--stdin takes at most 1 MiB of input; for bigger files use a shared folder (flotilla share) or scp through flotilla ssh`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Resolves on Ctrl-C / SIGTERM, for the commands that follow output; rejects if the engine goes away. */
function untilInterrupted(s: CliSession): Promise<void> {
  return new Promise((resolve, reject) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
    void s.opened.disconnected?.then(() => reject(new FlotillaError('DISCONNECTED', 'the engine went away')));
  });
}

async function buildDefaultDirect(outDir: string, io: CliIo): Promise<number> {
  const { buildDefaultGuest } = await import('../engine/guest/build-default');
  const r = await buildDefaultGuest({ home: flotillaHome(), outDir, onProgress: (m, pct) => io.err(`${pct === null ? '' : `[${pct}%] `}${m}\n`) });
  io.out(`built the default guest (kernel ${r.manifest.kernelVersion}) in ${r.dir}\n`);
  return 0;
}

export async function runCli(argv: readonly string[], io: CliIo = realIo): Promise<number> {
  const [command, ...args] = argv;
  if (!command) {
    io.err(overview(ENGINE_VERSION));
    return 1;
  }
  if (command === '--help' || command === '-h') {
    io.out(overview(ENGINE_VERSION));
    return 0;
  }
  if (command === '--version' || command === 'version') {
    io.out(`flotilla ${ENGINE_VERSION}\n`);
    return 0;
  }
  if (command === 'serve') return (await import('./serve-command')).runServe(args);
  const spec = COMMAND_OPTIONS[command];
  if (!spec) throw new FlotillaError('BAD_REQUEST', `unknown command ${JSON.stringify(command)}${commandHint(command, commandNames())}`);
  // --help anywhere before `--` wins over everything else, even a half-typed command line
  const dashDash = args.indexOf('--');
  if ((dashDash < 0 ? args : args.slice(0, dashDash)).some((x) => x === '--help' || x === '-h')) {
    io.out(commandHelp(command) ?? overview(ENGINE_VERSION));
    return 0;
  }
  if (command === 'help') return helpCommand(args, io);
  if (command === 'completion') return completionCommand(args, io);
  const a = parseArgs(args, spec, command);
  if (a.rest.length && command !== 'exec' && command !== 'ssh') throw new FlotillaError('BAD_REQUEST', `\`flotilla ${command}\` takes nothing after --`);
  const o = a.options;
  const json = o.json === true;
  const maxPositionals: Record<string, number> = { list: 0, ports: 1, image: 1, export: 2, clone: 2, cp: 2, disk: 3, media: 3, snapshot: 3, share: 3, host: 3 };
  if (a.positionals.length > (maxPositionals[command] ?? 1)) {
    throw new FlotillaError('BAD_REQUEST', `unexpected argument ${JSON.stringify(a.positionals[maxPositionals[command] ?? 1])} for \`flotilla ${command}\``);
  }
  const name = a.positionals[0];

  if (command === 'image') {
    if (name !== 'build-default') throw new FlotillaError('BAD_REQUEST', 'usage: flotilla image build-default [--out DIR]');
    if (o.out !== undefined) return buildDefaultDirect(o.out as string, io);
  }
  // validate before touching the engine, so a typo never starts one
  // (config-args loads the spec's schemas: only for the commands that build a config)
  const configArgs = command === 'create' || command === 'set' ? await import('./config-args') : null;
  const createConfig = command === 'create' ? configArgs!.createConfigFromArgs(name, o) : null;
  if (command === 'set') configArgs!.patchFromArgs(o);
  if (createConfig && o['ssh-key'] !== undefined) createConfig.sshKeys = await configArgs!.readSshKeyFiles((o['ssh-key'] as string[]).map((f) => absPath(f)));
  if (command === 'exec' && a.rest.length === 0) throw new FlotillaError('BAD_REQUEST', 'usage: flotilla exec NAME -- CMD [ARGS...]');

  const second = a.positionals[1];
  if (command === 'export' && (!name || !second)) throw new FlotillaError('BAD_REQUEST', 'usage: flotilla export NAME FILE [--force]');
  if (command === 'clone' && (!name || !second)) throw new FlotillaError('BAD_REQUEST', 'usage: flotilla clone SRC NEW [--linked] [--start] [--json]');
  if (command === 'import' && !name) throw new FlotillaError('BAD_REQUEST', 'usage: flotilla import FILE [--host HOST] [--name NEW] [--start] [--json]');

  const hostArgs = command === 'host' ? hostCommandArgs(a.positionals, o) : null;

  const session = new CliSession(await openEngine({ shell: 'cli' }));
  try {
    if (hostArgs) return await hostCommand(hostArgs, json, session, io);
    if (command === 'export' || command === 'import' || command === 'clone') return await (await import('./job-command')).jobCommand(command, name!, second, o, json, session, io);
    if (command === 'set') return await setCommand(name, o, json, session, io);
    if (command === 'disk') return await diskCommand(a.positionals, o, json, session, io);
    if (command === 'media') return await mediaCommand(a.positionals, o, json, session, io);
    if (command === 'snapshot') return await snapshotCommand(a.positionals, o, json, session, io);
    if (command === 'share') return await (await import('./share-command')).shareCommand(a.positionals, o, json, session, io);
    if (command === 'cp') return await (await import('./cp-command')).cpCommand(a.positionals, o.host as string | undefined, session, io);
    return await runCommand(command, name, o, a.rest, json, session, io, createConfig);
  } finally {
    await session.close();
  }
}

async function runCommand(
  command: string,
  name: string | undefined,
  o: ParsedOptions,
  rest: string[],
  json: boolean,
  s: CliSession,
  io: CliIo,
  createConfig: Record<string, unknown> | null,
): Promise<number> {
  const vmInfo = (vm: VmInfo): void => io.out(json ? formatJson(vm) : formatInfo(vm));
  switch (command) {
    case 'list': {
      const all = await s.call('vm.list', {});
      const vms = typeof o.host === 'string' ? all.filter((v) => v.host === o.host) : all;
      if (typeof o.host === 'string' && !(await s.call('host.list', {})).some((h) => h.id === o.host)) {
        throw new FlotillaError('NOT_FOUND', `no host named ${o.host}: see \`flotilla host list\``);
      }
      if (json) io.out(formatJson(vms));
      else io.out(formatList(vms, typeof o.host === 'string' ? o.host : undefined));
      return 0;
    }
    case 'create': {
      s.on('vm.progress', (p) => {
        if (p.progress && !json) io.err(`${p.progress.message ?? p.progress.op}${p.progress.percent === null ? '' : ` ${p.progress.percent.toFixed(0)}%`}\n`);
      });
      const vm = await s.call('vm.create', { ...(typeof o.host === 'string' ? { host: o.host } : {}), config: createConfig as never, start: o.start === true });
      if (json) io.out(formatJson(vm));
      else io.out(`created ${vm.name} (${vm.id})${vm.state === 'running' ? ', running' : ''}\n`);
      printWarnings(io, vm.warnings);
      return 0;
    }
    case 'start': {
      const vm = await s.find(name, o.host);
      const after = await s.call('vm.start', { host: vm.host, id: vm.id, waitAgent: o['wait-agent'] === true });
      if (json) io.out(formatJson(after));
      else io.out(`${after.name} is ${after.state}${after.agent === 'ready' ? ', agent ready' : ''}${after.ports.length ? ` (${formatPorts(after.ports)})` : ''}\n`);
      printWarnings(io, after.warnings);
      return 0;
    }
    case 'stop':
      return stopCommand(await s.find(name, o.host), o.force === true, json, s, io);
    case COMPLETE_VMS_COMMAND:
      for (const vm of await s.call('vm.list', {})) io.out(`${vm.name}\n`);
      return 0;
    case 'restart':
    case 'pause':
    case 'resume': {
      const vm = await s.find(name, o.host);
      const method = command === 'restart' ? 'vm.restart' : command === 'pause' ? 'vm.pause' : 'vm.resume';
      const after = await s.call(method, { host: vm.host, id: vm.id });
      if (json) io.out(formatJson(after));
      else io.out(`${after.name} is ${after.state}\n`);
      return 0;
    }
    case 'rm': {
      const vm = await s.find(name, o.host);
      const r = await s.call('vm.delete', { host: vm.host, id: vm.id, ...(o.storage === true ? { storage: true } : {}) });
      if (json) io.out(formatJson(r));
      else io.out(`deleted ${vm.name}\n`);
      return 0;
    }
    case 'info':
      if (name === undefined) {
        const e = await s.call('engine.info', {});
        io.out(json ? formatJson(e) : formatEngineInfo(e));
      } else vmInfo(await s.find(name, o.host));
      return 0;
    case 'ports': {
      const id = name ? (await s.find(name, o.host)).id : undefined;
      const ports = await s.call('vm.ports', id ? { id } : {});
      if (json) io.out(formatJson(ports));
      else {
        const vms = await s.call('vm.list', {});
        const nameOf = new Map(vms.map((v) => [v.id, v.name]));
        io.out(ports.length === 0 ? 'no ports in use\n' : ports.map((p) => `${nameOf.get(p.vmId) ?? p.vmId}\t${p.host}:${p.hostPort} -> ${p.guestPort ?? '-'}/${p.proto}\n`).join(''));
      }
      return 0;
    }
    case 'logs':
      return logsCommand(await s.find(name, o.host), o, s, io);
    case 'exec': {
      const vm = await s.find(name, o.host);
      // read before the call: a command that waits for input must not start without it
      const stdin = o.stdin ? await readStdinBytes() : undefined;
      const r = await s.call('vm.exec', { host: vm.host, id: vm.id, command: rest, timeoutMs: 600_000, ...(stdin !== undefined ? { stdinBase64: stdin.toString('base64') } : {}) });
      if (r.stdout) io.out(r.stdout);
      if (r.stderr) io.err(r.stderr);
      if (r.truncated) io.err('flotilla: output was truncated by the guest agent\n');
      if (r.exitCode !== null) return r.exitCode;
      return r.signal !== undefined ? 128 + r.signal : 1;
    }
    case 'console':
      return consoleCommand(await s.find(name, o.host), s, io);
    case 'ssh': {
      const vm = await s.find(name, o.host);
      const info = await s.call('vm.sshInfo', { host: vm.host, id: vm.id });
      const { sshArgs } = await import('../engine/builtin-vm');
      return runSsh(sshArgs(info, { ...(o.identity !== undefined ? { identity: absPath(o.identity as string) } : {}), command: rest }));
    }
    case 'image': {
      s.on('engine.progress', (p) => io.err(`${p.percent === null ? '' : `[${p.percent}%] `}${p.message ?? p.op}\n`));
      const r = await s.call('image.buildDefault', {});
      io.out(`built the default guest (kernel ${r.kernelVersion}) in ${r.dir}\n`);
      return 0;
    }
  }
  throw new FlotillaError('BAD_REQUEST', `unknown command ${command}`);
}

type ParsedOptions = Record<string, unknown>;

type HostArgs = { op: 'add'; name: string; uri: string; identity?: string; trustHostKey?: string } | { op: 'list' } | { op: 'rm'; name: string } | { op: 'volumes'; name: string; kinds: ('iso' | 'disk')[] } | { op: 'trust'; name: string; fingerprint?: string };

/** Pure part of `flotilla host …`: which operation, checked before an engine is touched. */
export function hostCommandArgs(pos: readonly string[], o: ParsedOptions, cwd = process.cwd()): HostArgs {
  const [op, name, uri] = pos;
  const usage = 'usage: flotilla host add NAME URI [--identity KEYFILE] [--trust-host-key SHA256:…] | host list | host rm NAME | host volumes NAME [--kind iso|disk] | host trust NAME [SHA256:…]';
  for (const opt of ['identity', 'trust-host-key']) {
    if (op !== 'add' && o[opt] !== undefined) throw new FlotillaError('BAD_REQUEST', `--${opt} goes with \`flotilla host add\``);
  }
  if (op !== 'volumes' && o.kind !== undefined) throw new FlotillaError('BAD_REQUEST', '--kind goes with `flotilla host volumes`');
  if (op === 'trust' && name) {
    if (uri !== undefined && !SSH_FINGERPRINT_RE.test(uri)) throw new FlotillaError('BAD_REQUEST', `host trust takes the fingerprint as ssh-keygen -l prints it (SHA256: and 43 characters), not ${JSON.stringify(uri)}`);
    return { op, name, ...(uri !== undefined ? { fingerprint: uri } : {}) };
  }
  if (op === 'volumes' && name && !uri) {
    if (o.kind !== undefined && o.kind !== 'iso' && o.kind !== 'disk') throw new FlotillaError('BAD_REQUEST', `--kind is iso or disk, not ${JSON.stringify(String(o.kind))}`);
    return { op, name, kinds: o.kind === 'iso' || o.kind === 'disk' ? [o.kind] : ['iso', 'disk'] };
  }
  if (op === 'add') {
    if (!name || !uri) throw new FlotillaError('BAD_REQUEST', `${usage} (e.g. flotilla host add lab qemu+ssh://root@lab.example.org/system)`);
    const fp = o['trust-host-key'];
    if (fp !== undefined && !(typeof fp === 'string' && SSH_FINGERPRINT_RE.test(fp))) throw new FlotillaError('BAD_REQUEST', `--trust-host-key takes a fingerprint as ssh-keygen -l prints it (SHA256: and 43 characters), not ${JSON.stringify(String(fp))}`);
    return { op, name, uri, ...(typeof o.identity === 'string' ? { identity: resolvePath(cwd, o.identity) } : {}), ...(typeof o['trust-host-key'] === 'string' ? { trustHostKey: o['trust-host-key'] } : {}) };
  }
  if (op === 'list' && !name) return { op };
  if (op === 'rm' && name && !uri) return { op, name };
  throw new FlotillaError('BAD_REQUEST', usage);
}

async function hostCommand(h: HostArgs, json: boolean, s: CliSession, io: CliIo): Promise<number> {
  if (h.op === 'add') {
    const info = await s.call('host.add', { name: h.name, uri: h.uri, ...(h.identity ? { identity: h.identity } : {}), ...(h.trustHostKey ? { trustHostKey: h.trustHostKey } : {}) }).catch((err: unknown) => {
      // ssh's question, asked the CLI's way: the same command again with the checked fingerprint
      if (!(err instanceof FlotillaError) || err.code !== 'UNAUTHORIZED') throw err;
      const key = (err.details as { hostKey?: { fingerprint?: string } } | undefined)?.hostKey;
      if (!key?.fingerprint || !SSH_FINGERPRINT_RE.test(key.fingerprint)) throw err;
      const again = ['flotilla', 'host', 'add', h.name, h.uri, ...(h.identity ? ['--identity', h.identity] : []), '--trust-host-key', key.fingerprint].map(shellQuote).join(' ');
      throw new FlotillaError('UNAUTHORIZED', `${err.message}:\n  ${again}`, err.details as never);
    });
    if (json) io.out(formatJson(info));
    else io.out(`added host ${info.name} (${info.uri ?? ''}): ${info.state}, ${info.vmCount} VM${info.vmCount === 1 ? '' : 's'}\n`);
    return 0;
  }
  if (h.op === 'trust') {
    if (!h.fingerprint) {
      // ssh's question, the CLI's way: the key, where to check it, and the command that trusts it
      const k = await s.call('host.offeredKey', { name: h.name });
      if (json) io.out(formatJson(k));
      else io.out(`${h.name} offers the ${k.type} key ${k.fingerprint}\ncheck it on the host (${hostKeyCheckCommand(k.type)}), then trust it:\n  ${['flotilla', 'host', 'trust', h.name, k.fingerprint].map(shellQuote).join(' ')}\n`);
      return 0;
    }
    const info = await s.call('host.trustKey', { name: h.name, fingerprint: h.fingerprint });
    if (json) io.out(formatJson(info));
    else io.out(`trusted the key of ${info.name}: ${info.state}, ${info.vmCount} VM${info.vmCount === 1 ? '' : 's'}\n`);
    return 0;
  }
  if (h.op === 'volumes') {
    const found: (HostVolume & { kind: 'iso' | 'disk' })[] = [];
    for (const kind of h.kinds) for (const v of (await s.call('host.volumes', { host: h.name, kind })).volumes) found.push({ ...v, kind });
    if (json) io.out(formatJson(found));
    else io.out(found.length ? formatVolumes(found) : `no ${h.kinds.length === 1 ? `${h.kinds[0] === 'iso' ? 'ISO' : 'disk'} images` : 'ISO or disk images'} in ${h.name}'s active storage pools\n`);
    return 0;
  }
  if (h.op === 'rm') {
    const r = await s.call('host.remove', { name: h.name });
    if (json) io.out(formatJson(r));
    else io.out(`removed host ${r.name} (its VMs keep running there)\n`);
    return 0;
  }
  const hosts = await s.call('host.list', {});
  if (json) io.out(formatJson(hosts));
  else io.out(formatHosts(hosts));
  return 0;
}

async function setCommand(name: string | undefined, o: ParsedOptions, json: boolean, s: CliSession, io: CliIo): Promise<number> {
  const patch = (await import('./config-args')).patchFromArgs(o);
  const vm = await s.find(name, o.host);
  const after = await s.call('vm.update', { host: vm.host, id: vm.id, patch: patch as never });
  if (json) io.out(formatJson(after));
  else io.out(`updated ${after.name}\n`);
  return 0;
}

function gib(text: string | undefined, usage: string): number {
  if (!text || !/^\d+$/.test(text)) throw new FlotillaError('BAD_REQUEST', `${usage} (GIB is a whole number of GiB)`);
  return Number(text);
}

async function diskCommand(pos: string[], o: ParsedOptions, json: boolean, s: CliSession, io: CliIo): Promise<number> {
  const [sub, vmName, size] = pos;
  const fmt = (b: number): string => `${(b / 2 ** 30).toFixed(2).replace(/\.00$/, '')} GiB`;
  if (sub === 'list') {
    const vm = await s.find(vmName, o.host);
    const disks = await s.call('disk.list', { host: vm.host, id: vm.id });
    if (json) io.out(formatJson(disks));
    else io.out(disks.length === 0 ? `${vm.name} has no disk of its own\n` : disks.map((d) => `${d.name}\t${fmt(d.virtualSize)}${d.backingFile ? `\tlinked to ${d.backingFile}` : ''}${d.path ? `\t${d.path}` : ''}${d.guestMount ? `\tat ${d.guestMount} in the guest` : ''}\n`).join(''));
    return 0;
  }
  if (sub === 'resize') {
    const sizeGiB = gib(size, 'usage: flotilla disk resize NAME GIB [--disk FILE]');
    const vm = await s.find(vmName, o.host);
    const d = await (await import('./job-command')).resizeOutlastingEngine(s, io, vm, o.disk as string | undefined, sizeGiB);
    if (json) io.out(formatJson(d));
    else io.out(`${vm.name}: ${d.name} is now ${fmt(d.virtualSize)}${d.online ? ' (grown while running; the guest sees it now)' : ''}\n`);
    return 0;
  }
  if (sub === 'add') {
    const sizeGiB = gib(size, 'usage: flotilla disk add NAME GIB');
    const vm = await s.find(vmName, o.host);
    const after = await s.call('disk.add', { host: vm.host, id: vm.id, sizeGiB });
    if (json) io.out(formatJson(after));
    else io.out(`${after.name}: added ${after.spec.disks.at(-1)} (${sizeGiB} GiB)\n`);
    return 0;
  }
  if (sub === 'rm') {
    // the third word is the disk's file name here, not a size
    if (!size) throw new FlotillaError('BAD_REQUEST', 'usage: flotilla disk rm NAME DISK (DISK is a name from `flotilla disk list NAME`, e.g. extra-1.qcow2)');
    const vm = await s.find(vmName, o.host);
    // an image on a libvirt host that Flotilla did not make is only detached: say which happened
    const keeps = (await s.call('disk.list', { host: vm.host, id: vm.id })).find((d) => d.name === size)?.removeKeepsFile === true;
    const after = await s.call('disk.remove', { host: vm.host, id: vm.id, disk: size });
    if (json) io.out(formatJson(after));
    else io.out(`${after.name}: removed ${size}${keeps ? '; its image stays on the host' : ' and deleted its file'}\n`);
    return 0;
  }
  throw new FlotillaError('BAD_REQUEST', 'usage: flotilla disk list|resize|add|rm NAME [GIB|DISK]');
}

async function snapshotCommand(pos: string[], o: ParsedOptions, json: boolean, s: CliSession, io: CliIo): Promise<number> {
  const [sub, vmName, snap] = pos;
  const usage = 'usage: flotilla snapshot create NAME [SNAP] [--disk-only] | list NAME | revert NAME SNAP | rm NAME SNAP';
  if (!vmName) throw new FlotillaError('BAD_REQUEST', usage);
  if (sub === 'create') {
    const vm = await s.find(vmName);
    const r = await (await import('./job-command')).snapshotOutlastingEngine(s, io, vm, snap, o['disk-only'] === true, json);
    if (json) io.out(formatJson(r));
    else io.out(`${vm.name}: snapshot ${r.name} taken${r.includesRam ? ' (with RAM)' : ' (disks only)'}\n`);
    return 0;
  }
  if (sub === 'list' && !snap) {
    const vm = await s.find(vmName);
    const list = await s.call('snapshot.list', { host: vm.host, id: vm.id });
    if (json) io.out(formatJson(list));
    else io.out(list.length === 0 ? `${vm.name} has no snapshots\n` : `NAME\tTAKEN\tRAM\n${list.map((x) => `${x.name}\t${x.createdAt}\t${x.includesRam ? (x.vmStateBytes > 0 ? `${Math.round(x.vmStateBytes / 2 ** 20)} MiB` : 'yes') : 'no'}\n`).join('')}`);
    return 0;
  }
  if ((sub === 'revert' || sub === 'rm') && snap) {
    const vm = await s.find(vmName);
    const jobs = await import('./job-command');
    if (sub === 'revert') {
      const after = await jobs.revertOutlastingEngine(s, io, vm, snap);
      io.out(`${after.name}: reverted to ${snap}; it is ${after.state}\n`);
    } else {
      await jobs.deleteOutlastingEngine(s, io, vm, snap);
      io.out(`${vm.name}: deleted snapshot ${snap}\n`);
    }
    return 0;
  }
  throw new FlotillaError('BAD_REQUEST', usage);
}

async function mediaCommand(pos: string[], o: ParsedOptions, json: boolean, s: CliSession, io: CliIo): Promise<number> {
  const [sub, vmName, iso] = pos;
  if (sub === 'insert' && iso) {
    // on a libvirt host ISO is a path on that host (`flotilla host volumes NAME --kind iso` lists them)
    const vm = await s.find(vmName, o.host);
    const path = pathOnHost(iso, vm.host);
    const after = await s.call('media.insert', { host: vm.host, id: vm.id, path });
    if (json) io.out(formatJson(after));
    else io.out(`${after.name}: inserted ${path}\n`);
    return 0;
  }
  if (sub === 'eject' && vmName && !iso) {
    const vm = await s.find(vmName, o.host);
    const after = await s.call('media.eject', { host: vm.host, id: vm.id });
    if (json) io.out(formatJson(after));
    else io.out(`${after.name}: ejected the CD\n`);
    return 0;
  }
  throw new FlotillaError('BAD_REQUEST', 'usage: flotilla media insert NAME ISO | flotilla media eject NAME');
}

function helpCommand(args: string[], io: CliIo): number {
  if (args.length === 0) {
    io.out(overview(ENGINE_VERSION));
    return 0;
  }
  if (args.length > 1) throw new FlotillaError('BAD_REQUEST', 'usage: flotilla help [COMMAND]');
  const text = commandHelp(args[0]!);
  if (!text) throw new FlotillaError('BAD_REQUEST', `unknown command ${JSON.stringify(args[0])}${commandHint(args[0]!, commandNames())}`);
  io.out(text);
  return 0;
}

function completionCommand(args: string[], io: CliIo): number {
  const shell = args[0];
  if (args.length !== 1 || (shell !== 'bash' && shell !== 'zsh')) throw new FlotillaError('BAD_REQUEST', 'usage: flotilla completion bash|zsh');
  io.out(shell === 'bash' ? bashCompletion({ options: COMMAND_OPTIONS }) : zshCompletion({ options: COMMAND_OPTIONS }));
  return 0;
}

const isDown = (vm: VmInfo): boolean => vm.state === 'stopped' || vm.state === 'crashed';

/** Stop is idempotent: a VM that is already down (or goes down while we ask) is success. */
async function stopCommand(vm: VmInfo, force: boolean, json: boolean, s: CliSession, io: CliIo): Promise<number> {
  let after: VmInfo;
  let already = isDown(vm);
  if (already) after = vm;
  else {
    try {
      after = await s.call('vm.stop', { host: vm.host, id: vm.id, force });
    } catch (err) {
      // it stopped on its own between our look and the stop: the engine refuses, the user's wish holds
      if (!(err instanceof FlotillaError && err.code === 'INVALID_STATE')) throw err;
      after = await s.call('vm.get', { host: vm.host, id: vm.id });
      if (!isDown(after)) throw err;
      already = true;
    }
  }
  if (json) io.out(formatJson(after));
  else if (already) io.out(`${after.name} is already ${after.state === 'crashed' ? 'stopped (it crashed)' : 'stopped'}\n`);
  else io.out(`${after.name} is ${after.state}${after.lastExit ? ` (${after.lastExit.reason})` : ''}\n`);
  return 0;
}

/** Runs the user's ssh client on this terminal; resolves with its exit code. */
async function runSsh(args: string[]): Promise<number> {
  // node:child_process (and dgram, which it pulls in) only for `flotilla ssh`: every other command starts faster
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: 'inherit' });
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(new FlotillaError('FILE_NOT_FOUND', e.code === 'ENOENT' ? 'ssh is not installed (install openssh-client)' : `could not run ssh: ${e.message}`, { path: 'ssh' })),
    );
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1)));
  });
}

async function logsCommand(vm: VmInfo, o: ParsedOptions, s: CliSession, io: CliIo): Promise<number> {
  if (o.serial) {
    // to a terminal, the guest's text and colours only: its queries (the shell's ESC[6n) would be
    // answered into the user's prompt; to a file or a pipe, every byte
    const filter = io.outIsTty ? new TerminalTextFilter('text') : null;
    const print = (data: string): void => io.out(filter ? filter.push(data) : data);
    if (o.follow) s.on('console.data', (p) => p.id === vm.id && print(p.data));
    const { scrollback } = await s.call('console.subscribe', { host: vm.host, id: vm.id });
    print(scrollback);
    if (!o.follow) return 0;
    await untilInterrupted(s);
    return 0;
  }
  const tail = (o.tail as number | undefined) ?? 200;
  const { entries } = await s.call('vm.logs', { host: vm.host, id: vm.id, tail });
  for (const e of entries) io.out(`${e.t} [${e.source}] ${e.text}\n`);
  if (!o.follow) return 0;
  s.on('vm.log', (p) => p.id === vm.id && io.out(`${p.entry.t} [${p.entry.source}] ${p.entry.text}\n`));
  await untilInterrupted(s);
  return 0;
}

/** Raw-mode terminal on the VM's serial console; Ctrl-] (0x1d) leaves, as in telnet. */
async function consoleCommand(vm: VmInfo, s: CliSession, io: CliIo): Promise<number> {
  const stdin = process.stdin;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  s.on('console.data', (p) => p.id === vm.id && io.out(p.data));
  s.on('vm.changed', (p) => {
    if (p.id === vm.id && (p.state === 'stopped' || p.state === 'crashed')) {
      io.err(`\r\n[flotilla: ${p.name} is ${p.state}: ${p.reason}]\r\n`);
      done();
    }
  });
  const { scrollback } = await s.call('console.subscribe', { host: vm.host, id: vm.id });
  io.err(`[connected to ${vm.name}'s serial console; Ctrl-] leaves]\r\n`);
  // the screen as it was, without the queries in it: answered now, they would be typed into the guest
  io.out(terminalText(scrollback, 'replay'));
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  stdin.resume();
  const onData = (buf: Buffer): void => {
    const quit = buf.indexOf(0x1d);
    const chunk = quit >= 0 ? buf.subarray(0, quit) : buf;
    if (chunk.length) void s.call('console.input', { host: vm.host, id: vm.id, data: chunk.toString('utf8') }).catch((e: unknown) => io.err(`\r\n[flotilla: ${(e as Error).message}]\r\n`));
    if (quit >= 0) done();
  };
  stdin.on('data', onData);
  stdin.once('end', () => done());
  // the built-in Linux's shell draws to this terminal's size, and follows it when it changes
  const stdout = process.stdout;
  const sendSize = (): void => {
    if (stdout.isTTY && stdout.columns >= 2 && stdout.rows >= 2) void s.call('console.resize', { host: vm.host, id: vm.id, cols: stdout.columns, rows: stdout.rows }).catch(() => undefined);
  };
  sendSize();
  stdout.on('resize', sendSize);
  let lost = false;
  void s.opened.disconnected?.then(() => {
    lost = true;
    done();
  });
  await finished;
  stdout.off('resize', sendSize);
  stdin.off('data', onData);
  if (raw) stdin.setRawMode(false);
  stdin.pause();
  if (lost) {
    io.err('\r\n[flotilla: the engine went away]\n');
    return 1;
  }
  io.err('\r\n[left the console]\n');
  return 0;
}

/** Entry point: run, print one clear error line on failure, exit with the code. */
export async function main(argv: readonly string[]): Promise<never> {
  let code: number;
  try {
    code = await runCli(argv);
  } catch (err) {
    const w = toWireError(err);
    process.stderr.write(`flotilla: ${w.message}\n`);
    code = 1;
  }
  // the short-lived engine has let go of its VMs; nothing else should keep us alive
  process.exit(code);
}
