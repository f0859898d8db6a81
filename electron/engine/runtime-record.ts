// vms/<id>/runtime.json: what the engine knows about a VM beyond its spec, kept across engine
// restarts (beside vm.json, not in it: the spec is the user's, this is the engine's). It lets
// the next engine tell a QEMU missing at start apart as a crash or a stop, finish a stop cut
// short by an engine death, and answer `list` with the last known agent state and IPs before
// it has pinged the agent itself (a one-shot CLI engine never stays long enough to).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiskCheck, LastExit } from '../../shared/contract';
import type { AgentState } from '../../shared/state';
import { writeFileAtomic } from './atomic-file';

export const RUNTIME_FILE = 'runtime.json';

export interface RuntimeRecord {
  /** the user wants this VM up: a missing QEMU at engine start is a crash, not a stop */
  wantRunning: boolean;
  /** a stop began and QEMU had not exited yet */
  stopPending: boolean;
  /** the last QEMU crashed (lastExit says how) and nothing started it since */
  crashed: boolean;
  lastExit: LastExit | null;
  lastDiskCheck: DiskCheck | null;
  /** the guest agent as last seen by an engine, and when */
  agent: AgentState;
  ips: string[];
  agentSeenAt: string | null;
  /** the virtiofsd helpers serving the VM's shares while it runs (adopted, or killed, by the next engine) */
  shareHelpers: ShareHelperRecord[];
}

export interface ShareHelperRecord {
  tag: string;
  pid: number;
  /** its vhost-user socket: with the pid, what proves a process is this helper */
  sock: string;
}

export const emptyRecord = (): RuntimeRecord => ({
  wantRunning: false,
  stopPending: false,
  crashed: false,
  lastExit: null,
  lastDiskCheck: null,
  agent: 'unknown',
  ips: [],
  agentSeenAt: null,
  shareHelpers: [],
});

/** Reads and writes one VM's record; writes are atomic and land in call order. */
export class RuntimeRecordFile {
  private readonly file: string;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(vmDir: string) {
    this.file = join(vmDir, RUNTIME_FILE);
  }

  /** The stored record; an absent or unreadable one reads as empty (the VM starts clean). */
  async load(): Promise<RuntimeRecord> {
    const rec = emptyRecord();
    try {
      const raw = JSON.parse(await readFile(this.file, 'utf8')) as Partial<RuntimeRecord>;
      rec.wantRunning = raw.wantRunning === true;
      rec.stopPending = raw.stopPending === true;
      rec.crashed = raw.crashed === true;
      rec.lastExit = raw.lastExit ?? null;
      rec.lastDiskCheck = raw.lastDiskCheck ?? null;
      if (raw.agent === 'ready' || raw.agent === 'unavailable') rec.agent = raw.agent;
      rec.ips = Array.isArray(raw.ips) ? raw.ips.filter((ip): ip is string => typeof ip === 'string') : [];
      rec.agentSeenAt = typeof raw.agentSeenAt === 'string' ? raw.agentSeenAt : null;
      rec.shareHelpers = Array.isArray(raw.shareHelpers)
        ? raw.shareHelpers.filter((h): h is ShareHelperRecord => typeof h?.tag === 'string' && Number.isSafeInteger(h.pid) && h.pid > 1 && typeof h.sock === 'string')
        : [];
    } catch {
      /* first start of this VM, or unreadable: start clean */
    }
    return rec;
  }

  /**
   * Queue a write of `rec` (a snapshot is taken now). A failed write is not fatal: the record
   * is advice for the next engine, and a full disk must not take the VM down.
   */
  save(rec: RuntimeRecord): void {
    if (this.closed) return;
    const text = JSON.stringify(rec, null, 2) + '\n';
    this.writing = this.writing.then(() => writeFileAtomic(this.file, text)).catch(() => undefined);
  }

  /** Let queued writes land (tests, engine close). */
  flush(): Promise<void> {
    return this.writing;
  }

  /**
   * Let queued writes land, and take no more: the supervisor has let go of its VM (engine close,
   * VM delete), and a job still finishing in this process must not write after that.
   */
  close(): Promise<void> {
    this.closed = true;
    return this.writing;
  }
}
