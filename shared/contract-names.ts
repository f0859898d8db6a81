// The contract's method and event names alone, with no schema library: what the sandboxed
// preload needs to refuse names outside the contract, without bundling zod into every window,
// and what the CLI's client path needs to talk to a running engine without loading zod (its
// start-up is the whole cost of `flotilla list`). contract.ts checks at compile time that these
// lists and its schemas name exactly the same things, and re-exports the constants below.

export const METHOD_NAME_LIST = [
  'engine.info',
  'vm.list',
  'vm.making',
  'host.list',
  'host.add',
  'host.remove',
  'host.volumes',
  'host.offeredKey',
  'host.trustKey',
  'vm.get',
  'vm.find',
  'vm.create',
  'vm.update',
  'vm.delete',
  'vm.start',
  'vm.stop',
  'vm.restart',
  'vm.pause',
  'vm.resume',
  'vm.exec',
  'vm.readFile',
  'vm.writeFile',
  'vm.logs',
  'vm.ports',
  'vm.checkPort',
  'vm.sshInfo',
  'console.subscribe',
  'console.unsubscribe',
  'console.input',
  'console.resize',
  'thumbnail.subscribe',
  'thumbnail.unsubscribe',
  'stats.subscribe',
  'stats.unsubscribe',
  'display.open',
  'host.pickFile',
  'path.inspect',
  'image.buildDefault',
  'stats.history',
  'fs.list',
  'vm.export',
  'vm.import',
  'vm.clone',
  'vm.cancelJob',
  'media.insert',
  'media.eject',
  'snapshot.list',
  'snapshot.create',
  'snapshot.revert',
  'snapshot.delete',
  'disk.list',
  'disk.resize',
  'disk.add',
  'disk.remove',
  'share.list',
  'share.add',
  'share.remove',
  'engine.stopAll',
] as const;

export const EVENT_NAME_LIST = [
  'vm.changed',
  'vm.removed',
  'vm.statsBatch',
  'vm.agent',
  'vm.progress',
  'vm.log',
  'console.data',
  'vm.thumbnail',
  'engine.progress',
  'host.changed',
  'host.removed',
  'ui.newVm',
] as const;

export type MethodNameLiteral = (typeof METHOD_NAME_LIST)[number];
export type EventNameLiteral = (typeof EVENT_NAME_LIST)[number];

const methodSet: ReadonlySet<string> = new Set(METHOD_NAME_LIST);
const eventSet: ReadonlySet<string> = new Set(EVENT_NAME_LIST);

export function isMethod(v: unknown): v is MethodNameLiteral {
  return typeof v === 'string' && methodSet.has(v);
}
export function isEventName(v: unknown): v is EventNameLiteral {
  return typeof v === 'string' && eventSet.has(v);
}

/** The host every VM lives on unless a request names another: Flotilla's own engine. */
export const LOCAL_HOST = 'local';

/**
 * Per-client streams. `subscribe` answers with what exists so far (scrollback, the latest
 * frame), then `event` carries each new piece to that client only (through CallContext.emit),
 * until `unsubscribe` or the client goes away. A stream is either per VM (its request names
 * the VM) or engine-wide. The engine, a socket client sharing one connection and a shell that
 * takes over a lost engine all keep their subscriptions by this table (shared/streams.ts).
 */
export const STREAMS = {
  console: { subscribe: 'console.subscribe', unsubscribe: 'console.unsubscribe', event: 'console.data', perVm: true },
  thumbnail: { subscribe: 'thumbnail.subscribe', unsubscribe: 'thumbnail.unsubscribe', event: 'vm.thumbnail', perVm: true },
  stats: { subscribe: 'stats.subscribe', unsubscribe: 'stats.unsubscribe', event: 'vm.statsBatch', perVm: false },
} as const satisfies Record<string, { subscribe: MethodNameLiteral; unsubscribe: MethodNameLiteral; event: EventNameLiteral; perVm: boolean }>;
export type StreamKind = keyof typeof STREAMS;
/** Events that only stream subscribers receive: never broadcast. */
export const STREAM_EVENTS: ReadonlySet<EventNameLiteral> = new Set(Object.values(STREAMS).map((s) => s.event));

/** A VM id (also a path component in the data directory): the pattern vmIdSchema checks. */
export const VM_ID_RE = /^[a-z0-9]{8,32}$/;

/** The most input vm.exec passes to a guest command (stdin, or stdinBase64 decoded). */
export const EXEC_STDIN_MAX_BYTES = 1 << 20;
/** The largest file vm.writeFile takes (its dataBase64 is at most 8 MiB). */
export const WRITE_FILE_MAX_BYTES = 6 << 20;
/**
 * The most one vm.readFile returns: its answer is base64 in one RPC frame of at most 16 MiB
 * (shared/rpc-client.ts), so 11 MiB (~14.7 MiB of base64). A bigger file is read in ranges.
 */
export const READ_FILE_MAX_BYTES = 11 * 1024 * 1024;
