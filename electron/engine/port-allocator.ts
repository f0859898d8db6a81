// The one table of host ports handed to VMs. A port is probed by binding it on 127.0.0.1 and
// closing it again; the table entry, not the probe, is what keeps it from going to a second VM
// (QEMU binds it later). Mutations run under one lock and are persisted atomically, so a restarted
// engine knows which ports its adopted VMs hold.
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { PortEntry } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';
import { writeFileAtomic } from './atomic-file';
import { KeyedMutex } from './mutex';

export const DEFAULT_PORT_RANGE: [number, number] = [40000, 49999];

export interface PortRequest {
  purpose: PortEntry['purpose'];
  proto: 'tcp' | 'udp';
  guestPort?: number;
  /** the user asked for this exact host port */
  hostPort?: number;
}

/** What is persisted: an entry plus whether the user chose the port (then it is never swapped). */
interface Row extends PortEntry {
  requested: boolean;
}

/**
 * The host port a VM's automatic forward had last time. A forward the user left empty gets the
 * same port again on the next start when it is still free, so a bookmarked 127.0.0.1:PORT keeps
 * working across stops, restarts and crash restarts. Other VMs are steered away from it.
 */
interface Remembered {
  vmId: string;
  proto: 'tcp' | 'udp';
  guestPort: number;
  hostPort: number;
}

export interface PortAllocatorOptions {
  file: string;
  range?: [number, number];
  env?: NodeJS.ProcessEnv;
  /** injectable for tests; default binds 127.0.0.1 */
  probe?: (port: number, proto: 'tcp' | 'udp') => Promise<boolean>;
}

export function parsePortRange(text: string): [number, number] {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(text);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || lo < 1024 || hi > 65535 || lo > hi) {
    throw new FlotillaError('BAD_REQUEST', `FLOTILLA_PORT_RANGE must look like 40000-49999 (1024..65535, low-high), got "${text}"`);
  }
  return [lo, hi];
}

function probeTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function probeUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket({ type: 'udp4', reuseAddr: false });
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** True if `port` can be bound on 127.0.0.1 right now. */
export function probePort(port: number, proto: 'tcp' | 'udp'): Promise<boolean> {
  return proto === 'udp' ? probeUdp(port) : probeTcp(port);
}

function toEntry(r: Row): PortEntry {
  const e: PortEntry = { vmId: r.vmId, purpose: r.purpose, proto: r.proto, hostPort: r.hostPort, host: '127.0.0.1' };
  if (r.guestPort !== undefined) e.guestPort = r.guestPort;
  return e;
}

function isRemembered(v: unknown): v is Remembered {
  const r = v as Remembered;
  return typeof r === 'object' && r !== null && typeof r.vmId === 'string' && Number.isInteger(r.hostPort) && Number.isInteger(r.guestPort) && (r.proto === 'tcp' || r.proto === 'udp');
}

function isRow(v: unknown): v is Row {
  const r = v as Row;
  return (
    typeof r === 'object' && r !== null && typeof r.vmId === 'string' && Number.isInteger(r.hostPort) &&
    (r.proto === 'tcp' || r.proto === 'udp') && (r.purpose === 'forward' || r.purpose === 'display-proxy')
  );
}

export class PortAllocator {
  private rows: Row[] = [];
  private remembered: Remembered[] = [];
  private readonly lock = new KeyedMutex();
  readonly range: [number, number];
  private cursor: number;
  private readonly probe: (port: number, proto: 'tcp' | 'udp') => Promise<boolean>;

  constructor(private readonly opts: PortAllocatorOptions) {
    const envRange = (opts.env ?? process.env).FLOTILLA_PORT_RANGE;
    this.range = opts.range ?? (envRange ? parsePortRange(envRange) : DEFAULT_PORT_RANGE);
    this.cursor = this.range[0];
    this.probe = opts.probe ?? probePort;
  }

  /**
   * Reads the persisted table. A missing file starts empty; an unreadable one too, and the
   * answer says why, so the engine can rebuild live VMs' forwards from their QEMU command lines
   * and say so (issue 11 defect 7) instead of silently forgetting them.
   */
  async load(): Promise<{ problem: string | null }> {
    return this.locked(async () => {
      let parsed: unknown;
      let problem: string | null = null;
      try {
        parsed = JSON.parse(await readFile(this.opts.file, 'utf8'));
        if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { entries?: unknown }).entries)) problem = 'it holds no port table';
      } catch (err) {
        parsed = undefined;
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problem = (err as Error).message;
      }
      const rows = (parsed as { entries?: unknown } | undefined)?.entries;
      this.rows = Array.isArray(rows) ? rows.filter(isRow).map((r) => ({ ...r, host: '127.0.0.1', requested: Boolean(r.requested) })) : [];
      const remembered = (parsed as { remembered?: unknown } | undefined)?.remembered;
      this.remembered = Array.isArray(remembered) ? remembered.filter(isRemembered) : [];
      return { problem };
    });
  }

  allocate(vmId: string, req: PortRequest): Promise<PortEntry> {
    return this.allocateMany(vmId, [req]).then((e) => e[0]!);
  }

  /** All or nothing: on any failure the table is unchanged. */
  allocateMany(vmId: string, reqs: PortRequest[]): Promise<PortEntry[]> {
    return this.locked(async () => {
      const before = this.rows;
      const rememberedBefore = this.remembered;
      this.rows = [...before];
      try {
        const out: PortEntry[] = [];
        for (const req of reqs) out.push(toEntry(await this.allocateOne(vmId, req)));
        this.remember(vmId);
        await this.persist();
        return out;
      } catch (err) {
        this.rows = before;
        this.remembered = rememberedBefore;
        throw err;
      }
    });
  }

  /** QEMU failed to bind `hostPort` (someone took it after the probe): give that entry a fresh port. */
  replace(vmId: string, hostPort: number): Promise<PortEntry> {
    return this.locked(async () => {
      const i = this.rows.findIndex((r) => r.vmId === vmId && r.hostPort === hostPort);
      const row = this.rows[i];
      if (!row) throw new FlotillaError('NOT_FOUND', `VM ${vmId} holds no host port ${hostPort}`);
      if (row.requested) throw this.takenError(hostPort, row.proto, null);
      const fresh: Row = { ...row, hostPort: await this.findFreePort(row.proto, vmId) };
      this.rows = this.rows.map((r, j) => (j === i ? fresh : r));
      this.remember(vmId);
      await this.persist();
      return toEntry(fresh);
    });
  }

  /** The VM is deleted: drop its rows and what it remembered. */
  forget(vmId: string): Promise<void> {
    return this.locked(async () => {
      if (!this.rows.some((r) => r.vmId === vmId) && !this.remembered.some((r) => r.vmId === vmId)) return;
      this.rows = this.rows.filter((r) => r.vmId !== vmId);
      this.remembered = this.remembered.filter((r) => r.vmId !== vmId);
      await this.persist();
    });
  }

  release(vmId: string): Promise<void> {
    return this.locked(async () => {
      if (!this.rows.some((r) => r.vmId === vmId)) return;
      this.rows = this.rows.filter((r) => r.vmId !== vmId);
      await this.persist();
    });
  }

  /**
   * Adoption: a live QEMU holds exactly these ports. They replace the VM's rows, and any other VM's
   * stale claim on the same port is dropped, since the running QEMU is the truth.
   */
  mark(vmId: string, entries: PortEntry[]): Promise<void> {
    return this.locked(async () => {
      const held = new Set(entries.map((e) => e.hostPort));
      const requested = new Set(this.rows.filter((r) => r.vmId === vmId && r.requested).map((r) => r.hostPort));
      const kept = this.rows.filter((r) => r.vmId !== vmId && !held.has(r.hostPort));
      const marked = entries.map((e): Row => ({ ...e, vmId, host: '127.0.0.1', requested: requested.has(e.hostPort) }));
      this.rows = [...kept, ...marked];
      this.remember(vmId);
      await this.persist();
    });
  }

  entries(vmId?: string): PortEntry[] {
    return this.rows.filter((r) => vmId === undefined || r.vmId === vmId).map(toEntry);
  }

  private async allocateOne(vmId: string, req: PortRequest): Promise<Row> {
    const hostPort = req.hostPort === undefined ? await this.autoPort(vmId, req) : await this.claimRequested(vmId, req);
    const row: Row = { vmId, purpose: req.purpose, proto: req.proto, hostPort, host: '127.0.0.1', requested: req.hostPort !== undefined };
    if (req.guestPort !== undefined) row.guestPort = req.guestPort;
    this.rows = [...this.rows.filter((r) => !(r.vmId === vmId && r.hostPort === hostPort && r.proto === req.proto)), row];
    return row;
  }

  private async claimRequested(vmId: string, req: PortRequest): Promise<number> {
    const port = req.hostPort!;
    const other = this.rows.find((r) => r.hostPort === port && r.vmId !== vmId);
    if (other) throw this.takenError(port, req.proto, other.vmId);
    // the same VM asking again (e.g. restart without release) keeps its port; its QEMU may hold it
    if (this.rows.some((r) => r.hostPort === port && r.vmId === vmId && r.proto === req.proto)) return port;
    if (!(await this.probe(port, req.proto))) throw this.takenError(port, req.proto, null);
    return port;
  }

  /** An automatic forward: the port it had last time if that is still free, else the next free one. */
  private async autoPort(vmId: string, req: PortRequest): Promise<number> {
    const last = req.purpose === 'forward' && req.guestPort !== undefined ? this.rememberedPort(vmId, req.proto, req.guestPort) : undefined;
    const [lo, hi] = this.range;
    if (last !== undefined && last >= lo && last <= hi && !this.rows.some((r) => r.hostPort === last) && (await this.probe(last, req.proto))) return last;
    return this.findFreePort(req.proto, vmId);
  }

  private rememberedPort(vmId: string, proto: 'tcp' | 'udp', guestPort: number): number | undefined {
    return this.remembered.find((r) => r.vmId === vmId && r.proto === proto && r.guestPort === guestPort)?.hostPort;
  }

  /** Records the VM's automatic forwards as they are now (its other remembered ports stay). */
  private remember(vmId: string): void {
    for (const r of this.rows) {
      if (r.vmId !== vmId || r.requested || r.purpose !== 'forward' || r.guestPort === undefined) continue;
      const entry: Remembered = { vmId, proto: r.proto, guestPort: r.guestPort, hostPort: r.hostPort };
      this.remembered = [...this.remembered.filter((m) => !(m.vmId === vmId && m.proto === r.proto && m.guestPort === r.guestPort)), entry];
    }
  }

  /**
   * Next fit from a moving cursor, so a just-released port is not handed out again at once.
   * Ports other VMs remember are passed over while any other port is free.
   */
  private async findFreePort(proto: 'tcp' | 'udp', forVm?: string): Promise<number> {
    const [lo, hi] = this.range;
    const size = hi - lo + 1;
    const used = new Set(this.rows.map((r) => r.hostPort));
    const othersRemember = new Set(this.remembered.filter((r) => r.vmId !== forVm).map((r) => r.hostPort));
    for (const avoidRemembered of [true, false]) {
      for (let i = 0; i < size; i++) {
        const port = lo + ((this.cursor - lo + i) % size);
        if (used.has(port) || (avoidRemembered && othersRemember.has(port))) continue;
        if (await this.probe(port, proto)) {
          this.cursor = port + 1 > hi ? lo : port + 1;
          return port;
        }
      }
      if (othersRemember.size === 0) break;
    }
    throw new FlotillaError('PORTS_EXHAUSTED', `no free ${proto} port in ${lo}-${hi}; widen FLOTILLA_PORT_RANGE or stop some VMs`);
  }

  private takenError(port: number, proto: 'tcp' | 'udp', usedBy: string | null): FlotillaError {
    const by = usedBy === null ? 'by another program' : `by VM ${usedBy}`;
    return new FlotillaError('PORT_TAKEN', `host port ${port}/${proto} on 127.0.0.1 is already in use ${by}; choose another port or leave it empty`, {
      hostPort: port,
      proto,
      ...(usedBy === null ? {} : { usedBy }),
    });
  }

  private persist(): Promise<void> {
    return writeFileAtomic(this.opts.file, JSON.stringify({ version: 1, entries: this.rows, remembered: this.remembered }, null, 2) + '\n');
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run('table', fn);
  }
}
