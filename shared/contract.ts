// The one contract. Every method and event is declared here once: its name, its request
// schema and its response type. IPC, WebSocket and the engine socket all carry exactly this.
// Code refers to `Methods`/`Events` keys, never to raw channel strings elsewhere.
import { z } from 'zod';
import { forwardSchema, hostPath, vmConfigSchema, vmIdSchema, vmPatchSchema, type VmSpec } from './spec';
import type { AgentState, VmState } from './state';
import { EVENT_NAME_LIST, METHOD_NAME_LIST, isEventName, isMethod, type EventNameLiteral, type MethodNameLiteral } from './contract-names';

// ---------------------------------------------------------------------------- DTOs

export interface PortEntry {
  vmId: string;
  /** what the port is for */
  purpose: 'forward' | 'display-proxy';
  proto: 'tcp' | 'udp';
  hostPort: number;
  /** for forwards */
  guestPort?: number;
  /** always loopback */
  host: '127.0.0.1';
}

export interface LastExit {
  at: string;
  code: number | null;
  signal: string | null;
  /** human words: "QEMU was killed by SIGKILL", "guest powered off" */
  reason: string;
  /** last lines of the QEMU log at the time of death */
  logTail: string[];
}

export interface DiskCheck {
  at: string;
  disk: string;
  /** qemu-img check exit code: 0 clean, 1 check failed, 2 corruption, 3 leaks only */
  exitCode: number;
  summary: string;
}

export interface Progress {
  op: 'disk-create' | 'disk-import' | 'image-build';
  /** 0..100, or null when indeterminate */
  percent: number | null;
  message?: string;
}

/** Plain data describing one VM, made by the engine's toInfo(). */
export interface VmInfo {
  id: string;
  name: string;
  spec: VmSpec;
  state: VmState;
  /** why the last transition happened, in words */
  reason: string;
  stateSince: string;
  pid: number | null;
  agent: AgentState;
  ips: string[];
  ports: PortEntry[];
  /** the VM has a graphical display (spec.display === 'vnc'); open it with display.open */
  hasDisplay: boolean;
  progress: Progress | null;
  lastExit: LastExit | null;
  lastDiskCheck: DiskCheck | null;
  /** the VM reached this state because the engine adopted a live QEMU */
  adopted: boolean;
  /** the engine could not talk to QMP; it does not kill the VM for it */
  qmpHealthy: boolean;
}

export interface VmStats {
  id: string;
  /** ms since epoch */
  t: number;
  /** of one host CPU; may exceed 100 with several vCPUs */
  cpuPercent: number;
  rssBytes: number;
}

export interface ExecResult {
  exitCode: number | null;
  signal?: number;
  stdout: string;
  stderr: string;
  /** true if output was truncated by the agent */
  truncated?: boolean;
}

export interface EngineInfo {
  version: string;
  home: string;
  pid: number;
  qemuVersion: string | null;
  kvm: boolean;
  defaultImage: { ready: boolean; kernelVersion: string | null; path: string };
  /** 'electron' | 'serve' | 'cli' */
  shell: string;
}

export interface LogEntry {
  t: string;
  source: 'lifecycle' | 'qemu';
  text: string;
}

export interface PathInfo {
  path: string;
  exists: boolean;
  readable: boolean;
  isFile: boolean;
  size: number | null;
  /** qemu-img's idea of the format for disks, or 'iso' / 'kernel' guesses */
  format: string | null;
  error?: string;
}

// ---------------------------------------------------------------------------- methods

const idReq = z.object({ id: vmIdSchema }).strict();
const empty = z.object({}).strict();

/** Request schemas, keyed by method. Response types are in `MethodResults`. */
export const Methods = {
  'engine.info': empty,
  'vm.list': empty,
  'vm.get': idReq,
  /** resolve a name or id (CLI convenience) */
  'vm.find': z.object({ nameOrId: z.string().min(1).max(128) }).strict(),
  'vm.create': z.object({ config: vmConfigSchema, start: z.boolean().default(false) }).strict(),
  'vm.update': z.object({ id: vmIdSchema, patch: vmPatchSchema }).strict(),
  'vm.delete': idReq,
  'vm.start': z.object({ id: vmIdSchema, waitAgent: z.boolean().default(false) }).strict(),
  'vm.stop': z.object({ id: vmIdSchema, force: z.boolean().default(false) }).strict(),
  'vm.restart': idReq,
  'vm.pause': idReq,
  'vm.resume': idReq,
  'vm.exec': z
    .object({
      id: vmIdSchema,
      command: z.array(z.string().max(65536)).min(1).max(256),
      stdin: z.string().max(1 << 20).optional(),
      timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    })
    .strict(),
  'vm.readFile': z.object({ id: vmIdSchema, path: hostPath }).strict(),
  'vm.writeFile': z.object({ id: vmIdSchema, path: hostPath, dataBase64: z.string().max(8 << 20) }).strict(),
  'vm.logs': z.object({ id: vmIdSchema, tail: z.number().int().min(1).max(10_000).default(500) }).strict(),
  'vm.ports': z.object({ id: vmIdSchema.optional() }).strict(),
  'vm.checkPort': z.object({ proto: forwardSchema.shape.proto, hostPort: z.number().int().min(1).max(65535) }).strict(),
  'console.subscribe': idReq,
  'console.unsubscribe': idReq,
  'console.input': z.object({ id: vmIdSchema, data: z.string().min(1).max(65536) }).strict(),
  'thumbnail.subscribe': idReq,
  'thumbnail.unsubscribe': idReq,
  /** A single-use loopback WebSocket URL for noVNC, proxied by the engine to the VM's VNC unix socket. */
  'display.open': idReq,
  /** Native file picker. Only the Electron shell answers it; elsewhere UNSUPPORTED (type a path instead). */
  'host.pickFile': z.object({ title: z.string().max(200).default('Choose a file'), kind: z.enum(['iso', 'disk', 'kernel', 'initrd']) }).strict(),
  'path.inspect': z.object({ path: hostPath, expect: z.enum(['iso', 'disk', 'kernel', 'initrd']).optional() }).strict(),
  'image.buildDefault': empty,
  /** Stop every running VM (graceful with a deadline), honouring keepRunningOnQuit unless `all`. */
  'engine.stopAll': z.object({ deadlineMs: z.number().int().min(0).max(300_000).default(30_000), includeKeepRunning: z.boolean().default(false) }).strict(),
} as const;

export type Method = keyof typeof Methods;
export const METHOD_NAMES: readonly Method[] = METHOD_NAME_LIST;

export interface MethodResults {
  'engine.info': EngineInfo;
  'vm.list': VmInfo[];
  'vm.get': VmInfo;
  'vm.find': VmInfo;
  /** with start: the warnings of vm.start */
  'vm.create': VmInfo & { warnings?: string[] };
  'vm.update': VmInfo;
  'vm.delete': { id: string };
  /** warnings: things the user should know that did not stop the start (memory the host may run short of) */
  'vm.start': VmInfo & { warnings: string[] };
  'vm.stop': VmInfo;
  'vm.restart': VmInfo;
  'vm.pause': VmInfo;
  'vm.resume': VmInfo;
  'vm.exec': ExecResult;
  'vm.readFile': { dataBase64: string };
  'vm.writeFile': { bytes: number };
  'vm.logs': { entries: LogEntry[] };
  'vm.ports': PortEntry[];
  'vm.checkPort': { free: boolean; reason?: string };
  /** scrollback so far, then `console.data` events */
  'console.subscribe': { scrollback: string };
  'console.unsubscribe': { ok: true };
  'console.input': { ok: true };
  /** latest PNG if any, then `vm.thumbnail` events */
  'thumbnail.subscribe': { pngBase64: string | null };
  'thumbnail.unsubscribe': { ok: true };
  'display.open': { url: string };
  'host.pickFile': { path: string | null };
  'path.inspect': PathInfo;
  'image.buildDefault': { kernelVersion: string; dir: string };
  'engine.stopAll': { stopped: string[]; keptRunning: string[] };
}

export type MethodRequest<M extends Method> = z.input<(typeof Methods)[M]>;
export type MethodParams<M extends Method> = z.output<(typeof Methods)[M]>;
export type MethodResult<M extends Method> = MethodResults[M];

// ---------------------------------------------------------------------------- events

export interface EventPayloads {
  /** full info after any change (state, agent, ips, ports, progress) */
  'vm.changed': VmInfo;
  'vm.removed': { id: string };
  'vm.stats': VmStats;
  'vm.agent': { id: string; agent: AgentState; ips: string[] };
  'vm.progress': { id: string; progress: Progress | null };
  'vm.log': { id: string; entry: LogEntry };
  /** only to subscribers of that VM's console */
  'console.data': { id: string; data: string };
  /** only to subscribers of that VM's thumbnail */
  'vm.thumbnail': { id: string; pngBase64: string };
  'engine.progress': Progress;
  /** a shell-side UI request (the app menu's New VM); never emitted by the engine */
  'ui.newVm': { source: 'menu' };
}

export type EventName = keyof EventPayloads;
export const EVENT_NAMES: readonly EventName[] = EVENT_NAME_LIST;

// The zod-free name lists (used by the preload) must name exactly the schemas' methods and the
// event map's events: each line fails to compile if one side gains a name the other lacks.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const methodNamesMatch: Same<MethodNameLiteral, Method> = true;
const eventNamesMatch: Same<EventNameLiteral, EventName> = true;
void methodNamesMatch;
void eventNamesMatch;

export { isEventName, isMethod };

/** The one interface every client (renderer, CLI, tests) programs against. */
export interface Api {
  invoke<M extends Method>(method: M, req: MethodRequest<M>): Promise<MethodResult<M>>;
  on<E extends EventName>(event: E, cb: (payload: EventPayloads[E]) => void): () => void;
}

/** What an engine implements; transports call handle() after validating with `Methods`. */
export interface ContractHandler {
  handle<M extends Method>(method: M, params: MethodParams<M>, ctx: CallContext): Promise<MethodResult<M>>;
  /** broadcast events (everything except console.data / vm.thumbnail, which go through ctx.emit) */
  onEvent(listener: <E extends EventName>(event: E, payload: EventPayloads[E]) => void): () => void;
}

/** One connected client (a window, a WebSocket, a CLI connection). Subscriptions hang off it. */
export interface CallContext {
  clientId: string;
  /** push an event to this client only */
  emit<E extends EventName>(event: E, payload: EventPayloads[E]): void;
  /** called when the client goes away, to drop its subscriptions */
  onClose(cb: () => void): void;
}
