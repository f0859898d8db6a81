// The QMP session with one QEMU process: the connection, its events, a periodic health probe
// that keeps our run state equal to QEMU's (someone may pause it behind our back), and quiet
// reconnects. An unhealthy QMP is shown (VmInfo.qmpHealthy) and never a reason to kill the VM.
import { QmpClient } from './qmp-client';

export const QMP_CONNECT_TIMEOUT_MS = 30_000;
const QMP_HEALTH_MS = 5000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export interface QmpEventMsg {
  event: string;
  data?: Record<string, unknown>;
}

export interface QmpSessionOwner {
  log(text: string): void;
  changed(): void;
  /** the process is gone or the engine let go: stop trying */
  over(): boolean;
  /** a job owns the run state now: the probe must not record transitions behind its back */
  busy(): boolean;
  event(e: QmpEventMsg): void;
  /** the probe found this run status while no job ran */
  status(status: string): void;
  /** the connection closed; resolves whether the process still lives */
  closed(): Promise<boolean>;
}

/** Connect to a starting QEMU's QMP socket, retrying until it listens, `stop()` says so, or the deadline. */
export async function connectQmpLoop(sock: string, stop: () => boolean, now: () => number): Promise<QmpClient | null> {
  const deadline = now() + QMP_CONNECT_TIMEOUT_MS;
  while (!stop() && now() < deadline) {
    try {
      return await QmpClient.connect(sock, { timeoutMs: 5000 });
    } catch {
      await sleep(50);
    }
  }
  return null;
}

export class QmpSession {
  client: QmpClient | null = null;
  healthy = true;
  private healthTimer: NodeJS.Timeout | null = null;
  private ended = false;

  constructor(
    private readonly sock: string,
    private readonly owner: QmpSessionOwner,
  ) {}

  attach(client: QmpClient): void {
    this.client = client;
    this.healthy = true;
    client.on('protocol-error', () => {
      if (this.ended || !this.healthy) return;
      this.healthy = false;
      this.owner.log('QMP sent something malformed; the VM is left alone and QMP is probed again');
      this.owner.changed();
    });
    client.on('event', (e: QmpEventMsg) => {
      if (!this.ended && this.client === client) this.owner.event(e);
    });
    client.on('close', () => {
      if (this.ended || this.client !== client) return;
      this.client = null;
      if (this.owner.over()) return;
      void this.owner.closed().then((alive) => {
        if (!alive || this.ended) return;
        this.healthy = false;
        this.owner.changed();
        void this.reconnect();
      });
    });
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = setInterval(() => void this.probe(), QMP_HEALTH_MS);
    this.healthTimer.unref();
  }

  /**
   * QMP failed at adoption: shown as unhealthy; with no connection it is retried quietly, and
   * with one the health probe marks it healthy once query-status answers.
   */
  markUnhealthy(): void {
    this.healthy = false;
    void this.reconnect();
  }

  private async probe(): Promise<void> {
    const client = this.client;
    if (!client || this.ended || this.owner.over() || this.owner.busy()) return;
    try {
      const { status } = await client.execute<{ status: string }>('query-status', {}, { timeoutMs: 3000 });
      if (this.ended || this.owner.over()) return;
      if (!this.healthy) {
        this.healthy = true;
        this.owner.log('QMP answers again');
        this.owner.changed();
      }
      // an operation of ours (pause, resume, stop…) is under way: it records its own transition
      if (!this.owner.busy()) this.owner.status(status);
    } catch {
      if (this.ended || this.owner.over() || !this.healthy) return;
      this.healthy = false;
      this.owner.log('QMP did not answer query-status; the VM is left alone');
      this.owner.changed();
    }
  }

  private async reconnect(): Promise<void> {
    while (!this.ended && !this.owner.over() && !this.client) {
      await sleep(1000);
      if (this.ended || this.owner.over()) return;
      try {
        const client = await QmpClient.connect(this.sock, { timeoutMs: 3000 });
        if (this.ended || this.owner.over()) {
          client.close();
          return;
        }
        this.attach(client);
        this.owner.log('QMP connection restored');
        this.owner.changed();
        return;
      } catch {
        /* keep trying quietly */
      }
    }
  }

  /** End the session (process gone, or engine shutdown). */
  end(): void {
    this.ended = true;
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
    this.client?.close();
    this.client = null;
  }
}
