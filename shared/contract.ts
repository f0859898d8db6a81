// The one contract. Every method and event is declared here once: its name, its request
// schema and its response type. IPC, WebSocket and the engine socket all carry exactly this.
// Code refers to `Methods`/`Events` keys, never to raw channel strings elsewhere.
import { z } from 'zod';
import { diskFileName, forwardSchema, hostPath, shareHostPath, shareTag, vmConfigSchema, vmIdSchema, vmName, vmPatchSchema, type SettingsRule, type VmSpec } from './spec';
import type { AgentState, VmState } from './state';
import type { HostFailure, HostKeyOffer } from './errors';
import { SSH_FINGERPRINT_RE } from './ssh-command';
import {
  EVENT_NAME_LIST,
  EXEC_STDIN_MAX_BYTES,
  LOCAL_HOST,
  METHOD_NAME_LIST,
  READ_FILE_MAX_BYTES,
  STREAMS,
  STREAM_EVENTS,
  isEventName,
  isMethod,
  type EventNameLiteral,
  type MethodNameLiteral,
  WRITE_FILE_MAX_BYTES,
  type StreamKind,
} from './contract-names';

/** Characters of base64 for `bytes` bytes. */
const base64Length = (bytes: number): number => Math.ceil(bytes / 3) * 4;

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
  /** `settle`: the VM waits for disk work a killed engine left running */
  op: 'disk-create' | 'disk-import' | 'image-build' | 'export' | 'import' | 'clone' | 'snapshot' | 'settle';
  /** a long job the user may cancel (vm.cancelJob) */
  cancellable?: boolean;
  /** 0..100, or null when indeterminate */
  percent: number | null;
  message?: string;
  /**
   * the name of the VM this job is making (a create or an import), which no list holds until the
   * job is done: every window shows it from its progress, not only the one that asked for it
   */
  newVm?: string;
}

// ---------------------------------------------------------------------------- hosts

/** The host every VM lives on unless a request names another: Flotilla's own engine (contract-names.ts). */
export { LOCAL_HOST };
export const hostIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'malformed host id');

/**
 * What a VM's backend can do. The UI hides what a VM cannot do and the engine refuses it with
 * UNSUPPORTED ("not available on this host"). A helper adding a feature adds its name here.
 */
export const VM_CAPS = ['lifecycle', 'pause', 'edit', 'forwards', 'console', 'display', 'exec', 'files', 'stats', 'logs', 'snapshots', 'shares', 'clone', 'export', 'disks', 'media'] as const;
export type VmCap = (typeof VM_CAPS)[number];
export type VmCaps = Record<VmCap, boolean>;

/** Caps with the listed capabilities on and the rest off. */
export function capsOf(on: readonly VmCap[]): VmCaps {
  const set = new Set(on);
  return Object.fromEntries(VM_CAPS.map((c) => [c, set.has(c)])) as VmCaps;
}

export type HostState = 'connecting' | 'connected' | 'failed';

export interface HostInfo {
  id: string;
  /** what the user reads (tiles, filter) */
  name: string;
  /** 'local' | 'libvirt' | … */
  kind: string;
  state: HostState;
  /** why it is connecting or failed; null when connected */
  reason: string | null;
  vmCount: number;
  /** the libvirt connection URI, for hosts that have one */
  uri?: string;
  /** why it failed, as a code (with `reason` in words): host-key-unknown offers host.offeredKey / host.trustKey */
  failure?: HostFailure;
}

/** A VM whose vm.json cannot be read: still listed (by id) so the user sees it and can delete or repair it. */
export interface BrokenVm {
  /** what is wrong, in words that say what to fix */
  reason: string;
  /** the file at fault */
  file: string;
}

/** Plain data describing one VM, made by the engine's toInfo(). */
export interface VmInfo {
  id: string;
  /** the host this VM lives on (HostInfo.id) */
  host: string;
  /** what this VM's backend can do */
  caps: VmCaps;
  /** which settings its host takes, and which of them while it runs */
  settings: SettingsRule;
  /** set when the VM's spec is unreadable; spec then holds placeholders and only delete is offered */
  broken: BrokenVm | null;
  name: string;
  spec: VmSpec;
  state: VmState;
  /** why the last transition happened, in words */
  reason: string;
  stateSince: string;
  pid: number | null;
  agent: AgentState;
  ips: string[];
  /** what the guest's agent says it runs ("Debian GNU/Linux 12 (bookworm) · kernel 6.1.0-28-amd64"); null until it says */
  guestOs: string | null;
  ports: PortEntry[];
  /** the VM has a graphical display (spec.display === 'vnc'); open it with display.open */
  hasDisplay: boolean;
  /** the guest's side of the console, in words, when the host knows it from the VM's definition */
  consoleDevice?: string;
  progress: Progress | null;
  lastExit: LastExit | null;
  lastDiskCheck: DiskCheck | null;
  /** the VM reached this state because the engine adopted a live QEMU */
  adopted: boolean;
  /** the engine could not talk to QMP; it does not kill the VM for it */
  qmpHealthy: boolean;
  /** while a graceful stop runs: when (ISO time) it turns into a forced stop; else null */
  stopDeadline: string | null;
  /**
   * When `agent` and `ips` are the last known ones (kept in the VM's runtime record by an
   * earlier engine, not yet confirmed by this one): when they were seen (ISO time). Else null.
   */
  agentLastSeen: string | null;
}

export interface VmStats {
  host: string;
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
  /** without KVM: why VMs are emulated (many times slower), and what to change; absent from older engines */
  noKvmReason?: string | null;
  /**
   * the built-in Linux: `stale` when an older Flotilla's recipe built it (it boots, but a rebuild
   * brings this version's kernel settings and guest programs); absent from older engines
   */
  defaultImage: { ready: boolean; stale?: boolean; kernelVersion: string | null; path: string };
  /** 'electron' | 'serve' | 'cli' */
  shell: string;
  /** the machine the engine runs on, for the host bar (running VMs' CPUs and memory against these) */
  hostTotals?: HostTotals;
}

export interface HostTotals {
  cpus: number;
  memoryBytes: number;
  /** free memory (MemAvailable) when engine.info answered */
  freeMemoryBytes: number;
}

/** One entry of a host directory listing (fs.list). Names are plain text, never markup. */
export interface DirEntry {
  name: string;
  kind: 'dir' | 'file';
  /** bytes, for files */
  size: number | null;
}

export interface DirListing {
  /** the directory listed, resolved (symlinks and `..` followed); without a path in the request, the user's home */
  path: string;
  /** its parent, or null at / */
  parent: string | null;
  /** directories first, then files; each sorted by name */
  entries: DirEntry[];
  /** more entries than the engine sends (FS_LIST_MAX) */
  truncated: boolean;
  /** entries left out because their names start with a dot (0 with showHidden) */
  hidden?: number;
}

export interface LogEntry {
  t: string;
  source: 'lifecycle' | 'qemu';
  text: string;
}

export interface ExportResult {
  path: string;
  bytes: number;
  /** archive format version (manifest.json `version`) */
  formatVersion: number;
}

/** An imported VM, and what of its archive was left out (said on stderr by the CLI, on the tile by the UI). */
export type ImportResult = VmInfo & { warnings: string[] };

/** One snapshot of a VM (internal qcow2 snapshot). */
export interface SnapshotInfo {
  name: string;
  createdAt: string;
  /** bytes of saved RAM/device state; 0 for a disk-only snapshot */
  vmStateBytes: number;
  /** revert of a running VM needs it */
  includesRam: boolean;
}

/** One of a VM's own disks. */
export interface DiskInfo {
  /** file name in the VM's directory, e.g. disk.qcow2, extra-1.qcow2; on a libvirt host its target, e.g. vda */
  name: string;
  /** on a libvirt host: where the image is on that host (shown, never opened here) */
  path?: string;
  virtualSize: number;
  /** bytes used on the host; null when not measured */
  actualSize: number | null;
  /** a linked clone's disk: the base it reads through to */
  backingFile?: string;
  /** for disk.resize: it was grown while the VM ran (QMP block_resize) */
  online?: boolean;
  /** added later (disk.add, extra-<n>.qcow2), not the disk the VM was made with: only such a disk can be removed */
  added?: boolean;
  /** disk.remove detaches it but leaves its file: an image on a libvirt host that Flotilla did not make */
  removeKeepsFile?: boolean;
  /** where the built-in Linux mounts this added disk (formatted ext4 at the boot that first sees it blank) */
  guestMount?: string;
  /**
   * Why disk.remove refuses this disk whatever the VM's state (it is the disk the VM was made
   * with, snapshots hold it, or linked clones read it), as a clause about "it"; absent when a
   * stopped VM may lose it.
   */
  keptBecause?: string;
}

/** The state of the helper process (virtiofsd) that serves a share to its running VM. */
export type ShareState =
  /** the VM is not running: no helper */
  | 'inactive'
  /** the helper serves the share */
  | 'running'
  /** the helper died while the VM ran (see `reason`); the guest's mount fails until the VM restarts */
  | 'dead';

/** One shared folder of a VM, with its helper's state. */
export interface ShareInfo {
  tag: string;
  /** the host directory, as resolved when it was added (symlinks followed) */
  hostPath: string;
  /** enforced on the host: the helper sees a read-only view of the directory */
  readOnly: boolean;
  state: ShareState;
  /** the helper's pid while it runs */
  pid: number | null;
  /** why it is dead, in words (exit code or signal); null otherwise */
  reason: string | null;
  /** where the built-in Linux mounts it (/mnt/<tag>); null for other guests */
  guestPath: string | null;
  /** what to type in another Linux guest to mount it: `mount -t virtiofs TAG /mnt/TAG` */
  mountCommand: string;
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

/** How long a graceful stop waits for the guest before QEMU is told to quit. */
export const STOP_DEADLINE_MS = 30_000;

/**
 * How every VM-addressed request names its VM: a host (absent means `local`, so callers that
 * know one host need not name it) and the VM's id there.
 */
const vmRef = { host: hostIdSchema.optional(), id: vmIdSchema };
const idReq = z.object(vmRef).strict();
const empty = z.object({}).strict();

/** An ssh host key's fingerprint as `ssh-keygen -l` prints it. */
const fingerprintSchema = z.string().regex(SSH_FINGERPRINT_RE, 'a SHA256 fingerprint as ssh-keygen -l prints it: SHA256: and 43 characters');

/** Request schemas, keyed by method. Response types are in `MethodResults`. */
export const Methods = {
  'engine.info': empty,
  'vm.list': empty,
  /** creates and imports under way: the VMs they make, which no list holds until they are done */
  'vm.making': empty,
  /** every host the engine knows, with its connection state */
  'host.list': empty,
  /** add a libvirt host: the URI is validated and connected once before it is stored (hosts.json) */
  'host.add': z
    .object({
      name: hostIdSchema,
      uri: z.string().min(1).max(2048),
      identity: z.string().startsWith('/', 'the key file path must be absolute').max(4096).optional(),
      /** the fingerprint (SHA256:…) of the ssh host key the user checked: added to known_hosts if the host still offers it */
      trustHostKey: fingerprintSchema.optional(),
    })
    .strict(),
  /** forget a libvirt host (its VMs keep running there) */
  'host.remove': z.object({ name: hostIdSchema }).strict(),
  /** a libvirt host's ISO images (`iso`) or disk images (`disk`) in its active storage pools, as virt-manager offers them */
  'host.volumes': z.object({ host: hostIdSchema, kind: z.enum(['iso', 'disk']) }).strict(),
  /** the ssh host key a stored remote host offers, when its key is not in known_hosts (failure host-key-unknown): for the user to check */
  'host.offeredKey': z.object({ name: hostIdSchema }).strict(),
  /** trust a stored remote host's ssh key by the fingerprint the user checked (added to known_hosts if the host still offers it), then connect */
  'host.trustKey': z.object({ name: hostIdSchema, fingerprint: fingerprintSchema }).strict(),
  'vm.get': idReq,
  /** resolve a name or id (CLI convenience) */
  'vm.find': z.object({ nameOrId: z.string().min(1).max(128), host: hostIdSchema.optional() }).strict(),
  'vm.create': z.object({ host: hostIdSchema.optional(), config: vmConfigSchema, start: z.boolean().default(false) }).strict(),
  'vm.update': z.object({ ...vmRef, patch: vmPatchSchema }).strict(),
  /** `storage`: libvirt hosts also delete the domain's disks (local VMs always lose theirs) */
  'vm.delete': z.object({ ...vmRef, storage: z.boolean().optional() }).strict(),
  'vm.start': z.object({ ...vmRef, waitAgent: z.boolean().default(false) }).strict(),
  'vm.stop': z.object({ ...vmRef, force: z.boolean().default(false) }).strict(),
  'vm.restart': idReq,
  'vm.pause': idReq,
  'vm.resume': idReq,
  'vm.exec': z
    .object({
      ...vmRef,
      command: z.array(z.string().max(65536)).min(1).max(256),
      /** the command's input as text, or (stdinBase64) as bytes; not both */
      stdin: z.string().max(EXEC_STDIN_MAX_BYTES).optional(),
      stdinBase64: z
        .string()
        .max(base64Length(EXEC_STDIN_MAX_BYTES))
        .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
        .optional(),
      timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    })
    .strict(),
  /**
   * A guest file through its agent: all of it (at most READ_FILE_MAX_BYTES, else an error naming
   * the way), or with `length` the range from `offset` (`eof`: the file ended within it).
   */
  'vm.readFile': z
    .object({
      ...vmRef,
      path: hostPath,
      offset: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
      length: z.number().int().min(1).max(READ_FILE_MAX_BYTES).optional(),
    })
    .strict()
    .refine((p) => p.offset === undefined || p.length !== undefined, { message: 'offset needs a length', path: ['length'] }),
  /** `append`: add to the end of the file instead of replacing it (a big file goes in chunks: shared/file-transfer.ts) */
  'vm.writeFile': z
    .object({
      ...vmRef,
      path: hostPath,
      dataBase64: z
        .string()
        .max(base64Length(WRITE_FILE_MAX_BYTES))
        .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'),
      append: z.boolean().default(false),
    })
    .strict(),
  'vm.logs': z.object({ ...vmRef, tail: z.number().int().min(1).max(10_000).default(500) }).strict(),
  /** the local port table (forwards bind 127.0.0.1 of this machine), of one VM or all */
  'vm.ports': z.object({ host: hostIdSchema.optional(), id: vmIdSchema.optional() }).strict(),
  'vm.checkPort': z.object({ proto: forwardSchema.shape.proto, hostPort: z.number().int().min(1).max(65535) }).strict(),
  /**
   * How to reach a VM's SSH server on its port-22 forward. The engine reads the guest's host key
   * through the agent and writes it to a Flotilla-managed known_hosts file first (built-in Linux).
   */
  'vm.sshInfo': idReq,
  'console.subscribe': idReq,
  'console.unsubscribe': idReq,
  'console.input': z.object({ ...vmRef, data: z.string().min(1).max(65536) }).strict(),
  /** the client's terminal size, for the built-in Linux's console pty (full-screen programs draw to it) */
  'console.resize': z.object({ ...vmRef, cols: z.number().int().min(2).max(1000), rows: z.number().int().min(2).max(1000) }).strict(),
  'thumbnail.subscribe': idReq,
  'thumbnail.unsubscribe': idReq,
  /** one `vm.statsBatch` event per sampling tick (every running VM's sample), to this client, until unsubscribed (the engine samples only while someone listens) */
  'stats.subscribe': empty,
  'stats.unsubscribe': empty,
  /** A single-use loopback WebSocket URL for noVNC, proxied by the engine to the VM's VNC unix socket. */
  'display.open': idReq,
  /** Native file picker. Only the Electron shell answers it; elsewhere UNSUPPORTED (type a path instead). */
  'host.pickFile': z.object({ title: z.string().max(200).default('Choose a file'), kind: z.enum(['iso', 'disk', 'kernel', 'initrd']) }).strict(),
  'path.inspect': z.object({ path: hostPath, expect: z.enum(['iso', 'disk', 'kernel', 'initrd']).optional() }).strict(),
  'image.buildDefault': empty,
  /** The last samples of every running VM (oldest first), so a fresh window's sparklines start full. */
  'stats.history': empty,
  /**
   * One host directory's entries, for the browser's file picker (the app uses host.pickFile). Only
   * what the engine's user can read; dotfiles only when asked; one directory, never recursive.
   */
  'fs.list': z.object({ path: hostPath.optional(), showHidden: z.boolean().default(false) }).strict(),
  /** Write a stopped VM to one archive file (manifest, spec, disks, sha256 each); never overwrites unless force. */
  'vm.export': z.object({ ...vmRef, path: hostPath, force: z.boolean().default(false) }).strict(),
  /** Verify an export archive completely, then create a new VM from it (new id, MAC, UUID; `name` renames it). */
  'vm.import': z.object({ host: hostIdSchema.optional(), path: hostPath, name: vmName.optional(), start: z.boolean().default(false) }).strict(),
  /** Copy a stopped VM: a full copy of its disks, or (linked) qcow2 overlays backed by them. */
  'vm.clone': z.object({ ...vmRef, name: vmName, linked: z.boolean().default(false), start: z.boolean().default(false) }).strict(),
  /** Cancel the VM's running long job (export, clone, resize…); `cancelled` false when none runs. */
  'vm.cancelJob': idReq,
  /** Put an ISO in the VM's CD drive, running (QMP) or stopped (spec); the next boot keeps it. */
  'media.insert': z.object({ ...vmRef, path: hostPath }).strict(),
  'media.eject': idReq,
  'snapshot.list': idReq,
  /** With RAM when the VM runs (unless diskOnly); a stopped VM's snapshot holds its disks. */
  'snapshot.create': z.object({ ...vmRef, name: z.string().min(1).max(200).optional(), diskOnly: z.boolean().default(false) }).strict(),
  /** A running VM goes on running in the saved state (its clock set from the host); a stopped one stays stopped. */
  'snapshot.revert': z.object({ ...vmRef, name: z.string().min(1).max(200) }).strict(),
  'snapshot.delete': z.object({ ...vmRef, name: z.string().min(1).max(200) }).strict(),
  'disk.list': idReq,
  /** Grow a disk (default: the first) to sizeGiB, running (QMP block_resize) or stopped (qemu-img resize); never shrinks. */
  'disk.resize': z.object({ ...vmRef, disk: diskFileName.optional(), sizeGiB: z.number().int().min(1).max(4096) }).strict(),
  /** Add a blank qcow2 disk (extra-<n>.qcow2) to a stopped VM. */
  'disk.add': z.object({ ...vmRef, sizeGiB: z.number().int().min(1).max(4096) }).strict(),
  /**
   * Detach a disk that disk.add made from a stopped VM and delete its file (its data is gone).
   * Refused for the disk the VM was made with, and for a disk that snapshots or linked clones need.
   */
  'disk.remove': z.object({ ...vmRef, disk: diskFileName }).strict(),
  /** The VM's shared folders with their helpers' state (caps.shares). */
  'share.list': idReq,
  /**
   * Share a host directory (it must exist; never /). Stopped VM: changes the spec. `tag` defaults
   * to a tag made from the directory's name. A running VM refuses (INVALID_STATE: stop it first).
   */
  'share.add': z.object({ ...vmRef, hostPath: shareHostPath, tag: shareTag.optional(), readOnly: z.boolean().default(false) }).strict(),
  /** Stop sharing; on a stopped VM (a running one refuses, as share.add). */
  'share.remove': z.object({ ...vmRef, tag: shareTag }).strict(),
  /** Stop every running VM (graceful with a deadline), honouring keepRunningOnQuit unless `all`. */
  'engine.stopAll': z.object({ deadlineMs: z.number().int().min(0).max(300_000).default(STOP_DEADLINE_MS), includeKeepRunning: z.boolean().default(false) }).strict(),
} as const;

/** A volume in a libvirt host's storage pool: its path is on that host. Names are the host's text. */
export interface HostVolume {
  pool: string;
  name: string;
  path: string;
  /** capacity as libvirt reports it (rounded to its display), null when it says none */
  bytes: number | null;
}

/** `ssh -p port -o HostKeyAlias=… -o UserKnownHostsFile=… user@host`, with the key it will check. */
export interface SshInfo {
  host: string;
  port: number;
  user: string;
  hostKeyAlias: string;
  knownHostsFile: string;
  /** the guest's host public key, `ssh-ed25519 AAAA…` */
  hostKey: string;
  /** Flotilla's own private key, which every built-in VM takes (own-ssh-key.ts); null when there is none */
  identityFile: string | null;
  /** a VM of a remote libvirt host: reached through that host (`ssh -W` there), its key checked as the host connection checks it */
  jump?: SshJump;
}

/** The remote libvirt host a guest is reached through: the same user, key and known_hosts as the host's connection. */
export interface SshJump {
  user: string;
  host: string;
  port: number;
  knownHostsFile: string;
  identityFile: string | null;
  /** the engine's ssh master to that host, reused while it runs (else ssh connects by itself) */
  controlPath: string | null;
}

export type Method = keyof typeof Methods;
export const METHOD_NAMES: readonly Method[] = METHOD_NAME_LIST;

export interface MethodResults {
  'engine.info': EngineInfo;
  'vm.list': VmInfo[];
  /** each with its latest progress, whose `newVm` names the VM */
  'vm.making': (VmRef & { progress: Progress })[];
  'host.list': HostInfo[];
  'host.add': HostInfo;
  'host.remove': { name: string };
  'host.volumes': { volumes: HostVolume[] };
  'host.offeredKey': HostKeyOffer;
  'host.trustKey': HostInfo;
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
  'vm.readFile': { dataBase64: string; eof: boolean };
  'vm.writeFile': { bytes: number };
  'vm.logs': { entries: LogEntry[] };
  'vm.ports': PortEntry[];
  'vm.checkPort': { free: boolean; reason?: string };
  'vm.sshInfo': SshInfo;
  /** scrollback so far, then `console.data` events */
  'console.subscribe': { scrollback: string };
  'console.unsubscribe': { ok: true };
  'console.input': { ok: true };
  /**
   * applied: the guest's console pty has this size now. false with a reason when the console has
   * none to set (a serial line: a custom VM's UART), the agent is not ready yet, or a newer size
   * sent meanwhile replaced this one.
   */
  'console.resize': { applied: boolean; reason?: string };
  /** latest PNG if any, then `vm.thumbnail` events */
  'thumbnail.subscribe': { pngBase64: string | null };
  'thumbnail.unsubscribe': { ok: true };
  /** `vm.statsBatch` events follow */
  'stats.subscribe': { ok: true };
  'stats.unsubscribe': { ok: true };
  'display.open': { url: string };
  'host.pickFile': { path: string | null };
  'path.inspect': PathInfo;
  'image.buildDefault': { kernelVersion: string; dir: string };
  'stats.history': { samples: VmStats[] };
  'fs.list': DirListing;
  'vm.export': ExportResult;
  /** warnings: what of the archive was left out (shared folders name this computer's folders) */
  'vm.import': ImportResult;
  'vm.clone': VmInfo;
  'vm.cancelJob': { cancelled: boolean };
  'media.insert': VmInfo;
  'media.eject': VmInfo;
  'snapshot.list': SnapshotInfo[];
  'snapshot.create': SnapshotInfo;
  'snapshot.revert': VmInfo;
  'snapshot.delete': { name: string };
  'disk.list': DiskInfo[];
  'disk.resize': DiskInfo;
  'disk.add': VmInfo;
  'disk.remove': VmInfo;
  'share.list': ShareInfo[];
  'share.add': ShareInfo;
  'share.remove': { tag: string };
  'engine.stopAll': { stopped: string[]; keptRunning: string[] };
}

export type MethodRequest<M extends Method> = z.input<(typeof Methods)[M]>;
export type MethodParams<M extends Method> = z.output<(typeof Methods)[M]>;
export type MethodResult<M extends Method> = MethodResults[M];

// ---------------------------------------------------------------------------- events

export interface EventPayloads {
  /** full info after any change (state, agent, ips, ports, progress) */
  'vm.changed': VmInfo;
  'vm.removed': VmRef;
  /**
   * only to subscribers of stats: every running VM's sample of one tick, in one event. One event
   * per VM was one WebSocket message each for the renderer to parse and dispatch (500 a second
   * with 500 VMs: most of the 500-tile frame time, issue 15).
   */
  'vm.statsBatch': { samples: VmStats[] };
  'vm.agent': VmRef & { agent: AgentState; ips: string[] };
  'vm.progress': VmRef & { progress: Progress | null };
  'vm.log': VmRef & { entry: LogEntry };
  /** only to subscribers of that VM's console */
  'console.data': VmRef & { data: string };
  /** only to subscribers of that VM's thumbnail */
  'vm.thumbnail': VmRef & { pngBase64: string };
  /** a host was added, connected, failed or its VM count changed */
  'host.changed': HostInfo;
  /** a host was removed (host.remove): its VMs went with it (vm.removed each, before this) */
  'host.removed': { id: string };
  'engine.progress': Progress;
  /** a shell-side UI request (the app menu's New VM); never emitted by the engine */
  'ui.newVm': { source: 'menu' };
}

/** A VM's address: its host and its id there. */
export interface VmRef {
  host: string;
  id: string;
}

export type EventName = keyof EventPayloads;
export const EVENT_NAMES: readonly EventName[] = EVENT_NAME_LIST;

// ---------------------------------------------------------------------------- streams

// STREAMS, StreamKind and STREAM_EVENTS live in contract-names.ts (zod-free, for the CLI's client
// path) and are re-exported here.
export { STREAMS, STREAM_EVENTS, type StreamKind };
const streamsMatch = STREAMS satisfies Record<string, { subscribe: Method; unsubscribe: Method; event: EventName; perVm: boolean }>;
void streamsMatch;

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
