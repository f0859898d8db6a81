// The contract's handler table: one entry per method, checked by the compiler against the
// contract (a missing method, or a handler whose params or result type differ from the
// contract's, fails to compile). Every VM-addressed method reaches its VM through the host
// registry by {host, id}; streams go through the engine's one stream table (streams.ts).
import { LOCAL_HOST, type CallContext, type Method, type MethodParams, type MethodResult } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import type { Host, HostRegistry, VmHandle } from './hosts/host';
import { unsupported } from './hosts/host';
import { checkStty, LatestWins, sttyCommand, type ConsoleSize } from './console-size';
import { listDirectory } from './fs-list';
import { inspectPath } from './images';
import { KeyedMutex } from './mutex';
import type { LibvirtHosts } from './hosts/libvirt/libvirt-hosts';
import type { LocalHost } from './hosts/local-host';
import type { EngineStreams } from './streams';

export type Handler<M extends Method> = (params: MethodParams<M>, ctx: CallContext) => Promise<MethodResult<M>> | MethodResult<M>;
export type HandlerTable = { [M in Method]: Handler<M> };

/** What the table needs from the engine beyond its hosts. */
export interface RouterDeps {
  hosts: HostRegistry;
  local: LocalHost;
  streams: EngineStreams;
  engineInfo: Handler<'engine.info'>;
  buildDefault: Handler<'image.buildDefault'>;
  stopAll: Handler<'engine.stopAll'>;
  making: Handler<'vm.making'>;
  /** the user's libvirt hosts (hosts.json) */
  libvirt: LibvirtHosts;
}

type Ref = { host?: string | undefined; id: string };

const clientSignals = new WeakMap<CallContext, AbortSignal>();

/** Aborts when the client that made a call goes away (one listener per client, not per call). */
function whileClientConnected(ctx: CallContext): AbortSignal {
  let signal = clientSignals.get(ctx);
  if (!signal) {
    const ctl = new AbortController();
    ctx.onClose(() => ctl.abort());
    clientSignals.set(ctx, (signal = ctl.signal));
  }
  return signal;
}

export function makeHandlers(d: RouterDeps): HandlerTable {
  // One write at a time per guest file: a write whose client went away stops at its next chunk,
  // and the next write of that file (a resumed send's) opens it only once that one has closed.
  const fileWrites = new KeyedMutex();
  const consoleSizes = new LatestWins<ConsoleSize>();
  const host = (p: { host?: string | undefined }): Host => d.hosts.get(p.host ?? LOCAL_HOST);
  const vm = (p: Ref): VmHandle => host(p).vm(p.id);
  const info = (p: Ref) => host(p).get(p.id);
  return {
    'engine.info': d.engineInfo,
    'vm.list': () => d.hosts.all().flatMap((h) => h.list()),
    'vm.making': d.making,
    'host.list': () => d.hosts.all().map((h) => h.info()),
    'host.add': async (p) => (await d.libvirt.add(p.name, p.uri, p.identity, p.trustHostKey)).info(),
    'host.volumes': async (p) => {
      const h = host(p);
      if (!h.volumes) throw unsupported('choosing from storage pools', h.id);
      return { volumes: await h.volumes(p.kind) };
    },
    'host.offeredKey': (p) => d.libvirt.offeredKey(p.name),
    'host.trustKey': async (p) => (await d.libvirt.trustKey(p.name, p.fingerprint)).info(),
    'host.remove': async (p) => {
      if (!d.libvirt.get(p.name)) throw new FlotillaError('NOT_FOUND', d.hosts.has(p.name) ? `host ${p.name} cannot be removed` : `no host named ${p.name}`, { host: p.name });
      await d.libvirt.remove(p.name);
      return { name: p.name };
    },
    'vm.get': (p) => info(p),
    'vm.find': (p) => {
      const hosts = p.host !== undefined ? [d.hosts.get(p.host)] : d.hosts.all();
      for (const h of hosts) {
        const found = h.find(p.nameOrId);
        if (found) return found;
      }
      throw new FlotillaError('NOT_FOUND', `no VM named ${JSON.stringify(p.nameOrId)}`);
    },
    'vm.create': (p) => host(p).create(p.config, { start: p.start }),
    'vm.update': async (p) => (await vm(p).update(p.patch), info(p)),
    'vm.delete': async (p) => (await host(p).delete(p.id, p.storage === undefined ? {} : { storage: p.storage }), { id: p.id }),
    'vm.start': async (p) => {
      const handle = vm(p);
      // not awaited before start: the start must join the VM's queue in the order it arrived
      const warnings = handle.startWarnings?.() ?? Promise.resolve([]);
      await handle.start({ waitAgent: p.waitAgent });
      return { ...info(p), warnings: await warnings };
    },
    'vm.stop': async (p) => (await vm(p).stop({ force: p.force }), info(p)),
    'vm.restart': async (p) => (await vm(p).restart(), info(p)),
    'vm.pause': async (p) => (await vm(p).pause(), info(p)),
    'vm.resume': async (p) => (await vm(p).resume(), info(p)),
    'vm.exec': (p) => {
      if (p.stdin !== undefined && p.stdinBase64 !== undefined) throw new FlotillaError('BAD_REQUEST', 'give the command input as stdin or as stdinBase64, not both', { field: 'stdinBase64' });
      const stdin = p.stdinBase64 !== undefined ? Buffer.from(p.stdinBase64, 'base64') : p.stdin;
      return vm(p).exec(p.command, { ...(stdin !== undefined ? { stdin } : {}), timeoutMs: p.timeoutMs });
    },
    'vm.readFile': async (p) => {
      const range = p.length !== undefined ? { offset: p.offset ?? 0, length: p.length } : undefined;
      const data = await vm(p).readFile(p.path, range);
      return { dataBase64: data.toString('base64'), eof: !range || data.length < range.length };
    },
    'vm.writeFile': async (p, ctx) => {
      const data = Buffer.from(p.dataBase64, 'base64');
      const bytes = await fileWrites.run(`${p.host ?? LOCAL_HOST}/${p.id}/${p.path}`, () => vm(p).writeFile(p.path, data, { append: p.append, signal: whileClientConnected(ctx) }));
      return { bytes };
    },
    'vm.logs': async (p) => ({ entries: await vm(p).logs(p.tail) }),
    'vm.ports': (p) => {
      const h = host(p);
      if (!h.ports) throw unsupported('host port forwards', h.id);
      return h.ports(p.id);
    },
    'vm.checkPort': (p) => d.local.checkPort(p.proto, p.hostPort),
    'vm.sshInfo': (p) => {
      const h = host(p);
      if (h === d.local) return d.local.sshInfo(p.id);
      const v = h.vm(p.id);
      if (!v.sshInfo) throw unsupported('SSH into the built-in Linux (flotilla ssh)', h.id);
      return v.sshInfo();
    },
    'console.subscribe': (p, ctx) => d.streams.subscribe('console.subscribe', p, ctx),
    'console.unsubscribe': (p, ctx) => d.streams.unsubscribe('console.unsubscribe', p, ctx),
    'console.input': (p) => {
      if (!vm(p).consoleInput(p.data)) throw new FlotillaError('INVALID_STATE', `the serial console of ${info(p).name} is not connected (is it running?)`);
      return { ok: true };
    },
    'console.resize': async (p) => {
      const i = info(p);
      // only the built-in Linux's console is a pty in the guest (console-size.ts)
      if (i.spec.source.kind !== 'default') return { applied: false, reason: 'a serial console has no window size' };
      if (i.state !== 'running' || i.agent !== 'ready') return { applied: false, reason: `the guest agent of ${i.name} is not ready` };
      const size = { cols: p.cols, rows: p.rows };
      const done = await consoleSizes.run(`${i.host}/${i.id}`, size, async (s) => checkStty(await vm(p).exec(sttyCommand(s), { timeoutMs: 10_000 })));
      return done === 'applied' ? { applied: true } : { applied: false, reason: 'a newer size replaced it' };
    },
    'thumbnail.subscribe': (p, ctx) => d.streams.subscribe('thumbnail.subscribe', p, ctx),
    'thumbnail.unsubscribe': (p, ctx) => d.streams.unsubscribe('thumbnail.unsubscribe', p, ctx),
    'stats.subscribe': (p, ctx) => d.streams.subscribe('stats.subscribe', p, ctx),
    'stats.unsubscribe': (p, ctx) => d.streams.unsubscribe('stats.unsubscribe', p, ctx),
    'stats.history': () => ({ samples: d.streams.history() }),
    'display.open': async (p) => ({ url: await vm(p).displayUrl() }),
    'host.pickFile': () => {
      throw new FlotillaError('UNSUPPORTED', 'file pickers exist only in the desktop app; type the path instead');
    },
    'path.inspect': (p) => inspectPath(p.path, p.expect),
    'fs.list': (p) => listDirectory(p.path, { showHidden: p.showHidden }),
    'image.buildDefault': d.buildDefault,
    'vm.export': (p) => {
      const v = vm(p);
      if (!v.exportTo) throw unsupported('export', host(p).id);
      return v.exportTo(p.path, p.force);
    },
    'vm.import': (p) => {
      const h = host(p);
      if (!h.importVm) throw unsupported('import', h.id);
      return h.importVm(p.path, { ...(p.name !== undefined ? { name: p.name } : {}), start: p.start });
    },
    'vm.clone': (p) => {
      const v = vm(p);
      if (!v.clone) throw unsupported('clone', host(p).id);
      return v.clone(p.name, { linked: p.linked, start: p.start });
    },
    // an import has no VM yet: its progress events name the id it will have, and so does Cancel
    'vm.cancelJob': (p) => ({ cancelled: host(p).cancelImport?.(p.id) || (vm(p).cancelJob?.() ?? false) }),
    'media.insert': async (p) => {
      const v = vm(p);
      if (!v.changeMedia) throw unsupported('changing the CD', host(p).id);
      await v.changeMedia(p.path);
      return info(p);
    },
    'media.eject': async (p) => {
      const v = vm(p);
      if (!v.changeMedia) throw unsupported('changing the CD', host(p).id);
      await v.changeMedia(null);
      return info(p);
    },
    'snapshot.list': (p) => {
      const v = vm(p);
      if (!v.snapshots) throw unsupported('snapshots', host(p).id);
      return v.snapshots();
    },
    'snapshot.create': (p) => {
      const v = vm(p);
      if (!v.snapshotCreate) throw unsupported('snapshots', host(p).id);
      return v.snapshotCreate(p.name, { diskOnly: p.diskOnly });
    },
    'snapshot.revert': async (p) => {
      const v = vm(p);
      if (!v.snapshotRevert) throw unsupported('snapshots', host(p).id);
      await v.snapshotRevert(p.name);
      return info(p);
    },
    'snapshot.delete': async (p) => {
      const v = vm(p);
      if (!v.snapshotDelete) throw unsupported('snapshots', host(p).id);
      await v.snapshotDelete(p.name);
      return { name: p.name };
    },
    'disk.list': (p) => {
      const v = vm(p);
      if (!v.disks) throw unsupported('disk management', host(p).id);
      return v.disks();
    },
    'disk.resize': (p) => {
      const v = vm(p);
      if (!v.resizeDisk) throw unsupported('disk management', host(p).id);
      return v.resizeDisk(p.disk, p.sizeGiB);
    },
    'disk.add': async (p) => {
      const v = vm(p);
      if (!v.addDisk) throw unsupported('disk management', host(p).id);
      await v.addDisk(p.sizeGiB);
      return info(p);
    },
    'disk.remove': async (p) => {
      const v = vm(p);
      if (!v.removeDisk) throw unsupported('disk management', host(p).id);
      await v.removeDisk(p.disk);
      return info(p);
    },
    'share.list': (p) => {
      const v = vm(p);
      if (!v.shares) throw unsupported('shared folders', host(p).id);
      return v.shares();
    },
    'share.add': (p) => {
      const v = vm(p);
      if (!v.shareAdd) throw unsupported('shared folders', host(p).id);
      return v.shareAdd({ hostPath: p.hostPath, ...(p.tag !== undefined ? { tag: p.tag } : {}), readOnly: p.readOnly });
    },
    'share.remove': async (p) => {
      const v = vm(p);
      if (!v.shareRemove) throw unsupported('shared folders', host(p).id);
      await v.shareRemove(p.tag);
      return { tag: p.tag };
    },
    'engine.stopAll': d.stopAll,
  } satisfies HandlerTable;
}
