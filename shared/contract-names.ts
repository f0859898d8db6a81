// The contract's method and event names alone, with no schema library: what the sandboxed
// preload needs to refuse names outside the contract, without bundling zod into every window.
// contract.ts checks at compile time that these lists and its schemas name exactly the same things.

export const METHOD_NAME_LIST = [
  'engine.info',
  'vm.list',
  'host.list',
  'host.add',
  'host.remove',
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
  'share.list',
  'share.add',
  'share.remove',
  'engine.stopAll',
] as const;

export const EVENT_NAME_LIST = [
  'vm.changed',
  'vm.removed',
  'vm.stats',
  'vm.agent',
  'vm.progress',
  'vm.log',
  'console.data',
  'vm.thumbnail',
  'engine.progress',
  'host.changed',
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
