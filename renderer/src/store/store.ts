// The one renderer store, in three slices:
//   vms      — what the engine says about each VM, plus each tile's own pending/error
//              (its stats live in stats-store.ts, notified per VM)
//   consoles — streams from guests: serial text, screen thumbnails, logs, exec history
//   ui       — view state: filter, sort, open VM, dialogs, connection
// Components select single fields; actions (store/actions.ts) are module functions that call
// useStore.setState. Only store/events.ts writes engine events in.
import { create } from 'zustand';
import type { EngineInfo, ExecResult, HostInfo, LogEntry, Progress, VmInfo } from '../../../shared/contract';
import type { ErrorCode } from '../../../shared/errors';
import type { ConnectionStatus } from '../api/transport';
import type { ThemeChoice } from '../lib/theme';
import { resetStats } from './stats-store';

export interface UiError {
  code: ErrorCode;
  message: string;
  details?: unknown;
  /** what the user was doing, e.g. "Start" */
  action?: string;
}

export interface TileOp {
  /** label of the running action ("Starting…"), null when idle */
  pending: string | null;
  error: UiError | null;
  /** what the engine said to watch out for after an action that succeeded (a start short of host memory) */
  warnings?: string[];
}

/** Last STATS_WINDOW samples, oldest first. */
export interface StatsSeries {
  t: number[];
  cpu: number[];
  rss: number[];
}
export const STATS_WINDOW = 60;

export interface ExecEntry {
  n: number;
  command: string;
  at: number;
  result: ExecResult | null;
  error: UiError | null;
}

export type SortKey = 'name' | 'state' | 'created';
export type VmTab = 'console' | 'display' | 'exec' | 'files' | 'snapshots' | 'logs' | 'settings';

/** A file sent into a VM or fetched from it (the Files tab), for this session. */
export interface FileTransfer {
  n: number;
  direction: 'send' | 'fetch';
  /** the file's own name */
  name: string;
  /** where it is (or goes) in the guest */
  guestPath: string;
  /** null until known (a fetch learns it at the end) */
  size: number | null;
  done: number;
  state: 'active' | 'done' | 'failed' | 'cancelled';
  error: UiError | null;
  /** a send that carried on from an earlier try's part file: the bytes that were there */
  resumedAt: number | null;
  /** waiting for the engine to come back, to carry on */
  waiting: boolean;
}
export type Dialog =
  | { kind: 'create' }
  | { kind: 'delete'; id: string }
  | { kind: 'forceStop'; id: string }
  | { kind: 'stopAll' }
  | { kind: 'help' }
  | { kind: 'clone'; id: string }
  | { kind: 'export'; id: string }
  | { kind: 'addDisk'; id: string }
  | { kind: 'insertCd'; id: string }
  | { kind: 'import' }
  | { kind: 'hosts' }
  | null;

/** A VM being created: shown as a tile with a progress bar before the engine commits it. */
export interface CreatingVm {
  key: string;
  name: string;
  /** the id the engine's vm.progress events carry, once the disk work started */
  vmId: string | null;
  progress: Progress | null;
  error: UiError | null;
  /** what makes it: a new VM (vm.create) or an archive being imported (vm.import, which can be cancelled) */
  op?: 'create' | 'import';
  /** the libvirt host it is made on (absent: this computer) */
  host?: string;
  /** an import not named in its dialog: it takes the archive's name once its job reports */
  nameFromArchive?: boolean;
  /** a job another window or the CLI started, shown from its progress: it goes when the job ends */
  elsewhere?: boolean;
}

export interface VmsSlice {
  byId: Record<string, VmInfo>;
  creating: Record<string, CreatingVm>;
  ops: Record<string, TileOp>;
  /** the hosts VMs live on (host.list, then host.changed) */
  hosts: HostInfo[];
  /** the first full list has arrived */
  loaded: boolean;
}

export interface ConsolesSlice {
  /** serial console text while subscribed, capped */
  text: Record<string, string>;
  /** latest screen PNG (base64) while subscribed */
  thumbs: Record<string, string>;
  /** undefined until the Logs tab loaded them */
  logs: Record<string, LogEntry[] | undefined>;
  exec: Record<string, ExecEntry[]>;
  /** the Files tab's transfers, oldest first */
  files: Record<string, FileTransfer[]>;
  /** the Files tab's folder in the VM, as last typed (kept across tab switches) */
  fileFolders: Record<string, string>;
}

export interface UiSlice {
  filter: string;
  /** show only this host's VMs (the toolbar offers it when there is more than one host) */
  hostFilter: string | null;
  sort: SortKey;
  openVmId: string | null;
  tab: VmTab;
  dialog: Dialog;
  focusedId: string | null;
  connection: ConnectionStatus;
  engine: EngineInfo | null;
  /** a problem not tied to one VM (failed refresh, bad start-up) */
  notice: UiError | null;
  /** bumps to ask the filter input to take focus */
  focusFilterSeq: number;
  /** the user's theme choice (remembered in localStorage by lib/theme) */
  theme: ThemeChoice;
  /** tiles ticked for a start/stop of several VMs at once */
  selected: Record<string, true>;
}

export interface StoreState {
  vms: VmsSlice;
  consoles: ConsolesSlice;
  ui: UiSlice;
}

export function initialState(): StoreState {
  return {
    vms: { byId: {}, creating: {}, ops: {}, hosts: [], loaded: false },
    consoles: { text: {}, thumbs: {}, logs: {}, exec: {}, files: {}, fileFolders: {} },
    ui: {
      filter: '',
      hostFilter: null,
      sort: 'name',
      openVmId: null,
      tab: 'console',
      dialog: null,
      focusedId: null,
      connection: { kind: 'connecting', attempt: 1 },
      engine: null,
      notice: null,
      focusFilterSeq: 0,
      theme: 'system',
      selected: {},
    },
  };
}

export const useStore = create<StoreState>()(() => initialState());

/** Test helper: back to a fresh store. */
export function resetStore(): void {
  useStore.setState(initialState(), true);
  resetStats();
}

export const IDLE_OP: TileOp = { pending: null, error: null };
