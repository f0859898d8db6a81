// The guest agent of one running VM: connecting → ready (it answers a ping) or unavailable
// (silent past the grace period), retried quietly for as long as the QEMU process lives, and
// the guest's IP addresses, refreshed now and then, and what OS it says it runs (asked once per
// QEMU process, again while the question does not get through).
//
// What an earlier engine last saw (the runtime record) seeds the state, marked by `seenAt`,
// so a one-shot CLI engine can answer `list` with the last known state and IPs instead of
// "connecting" and none; the first answer of the agent replaces it.
import { FlotillaError } from '../../shared/errors';
import type { AgentState, VmState } from '../../shared/state';
import { isActive } from '../../shared/state';
import { AgentClient } from './agent-client';
import { osInfoAfterFailure } from './guest-os';

const AGENT_PING_MS = 5000;
const IPS_REFRESH_MS = 30_000;

export interface AgentWatchOwner {
  name(): string;
  state(): VmState;
  log(text: string): void;
  /** agent state or IPs changed */
  changed(): void;
}

export class AgentWatch {
  state: AgentState = 'unknown';
  ips: string[] = [];
  /** what the guest says it runs (guest-os.ts); null until it has said */
  os: string | null = null;
  private osAsked = false;
  /** when state and IPs come from the runtime record and not from this engine: the time they were seen */
  seenAt: string | null = null;
  client: AgentClient | null = null;
  private waiters: (() => void)[] = [];
  private wake: (() => void) | null = null;
  private ipsFetchedAt = 0;
  /** bumps per loop: a loop of an earlier QEMU process ends at its next step */
  private run = 0;

  constructor(
    private readonly sock: string,
    private readonly graceMs: number,
    private readonly now: () => number,
    private readonly owner: AgentWatchOwner,
  ) {}

  /** The last known state from the runtime record (adoption); the loop confirms or replaces it. */
  seed(state: AgentState, ips: string[], seenAt: string | null): void {
    if (state !== 'ready' || seenAt === null) return;
    this.state = state;
    this.ips = ips;
    this.seenAt = seenAt;
  }

  /** Watch the agent of a QEMU process that just came up. */
  begin(): void {
    const run = ++this.run;
    this.os = null;
    this.osAsked = false;
    if (this.seenAt === null) this.set('connecting');
    void this.loop(run);
  }

  /** The process is gone (or the engine lets go): stop watching, forget the agent. */
  end(): void {
    this.run++;
    this.client?.close();
    this.client = null;
    this.seenAt = null;
    this.set('unknown', []);
    this.wake?.();
    this.release();
  }

  /** The guest rebooted or resumed: reconnect now instead of waiting for a failed ping. */
  reset(): void {
    this.client?.close();
    this.client = null;
    if (this.state === 'ready') this.set('connecting');
    this.wake?.();
  }

  nudge(): void {
    this.wake?.();
  }

  /** Wake every waitReady (the VM went away). */
  release(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private set(state: AgentState, ips?: string[]): void {
    const changed = state !== this.state || (ips !== undefined && ips.join() !== this.ips.join());
    this.state = state;
    if (ips !== undefined) this.ips = ips;
    if (state === 'ready' || !isActive({ state: this.owner.state() })) this.release();
    if (changed) this.owner.changed();
  }

  /** Confirmed by this engine: no longer the record's last known state. */
  private live(state: AgentState, ips?: string[]): void {
    const wasStale = this.seenAt !== null;
    this.seenAt = null;
    this.set(state, ips);
    if (wasStale) this.owner.changed();
  }

  private async loop(run: number): Promise<void> {
    const graceEnd = this.now() + this.graceMs;
    const going = (): boolean => run === this.run && isActive({ state: this.owner.state() });
    while (going()) {
      if (!this.client) {
        try {
          // While the guest boots, one long attempt: QEMU holds the sync until the guest opens its
          // port, so it is answered the moment qemu-ga starts. Short attempts with a nap between
          // them made a boot just over 3 s wait for the next attempt (up to 1.3 s more than the
          // guest needed). Capped, so a sync lost to a restarting qemu-ga is retried.
          const booting = this.state === 'connecting' ? Math.min(Math.max(0, graceEnd - this.now()), 15_000) : 0;
          const a = await AgentClient.connect(this.sock, { timeoutMs: Math.max(3000, booting) });
          if (!going()) {
            a.close();
            return;
          }
          await a.ping(3000);
          this.client = a;
          this.live('ready');
          this.owner.log('guest agent is ready');
        } catch {
          if (!going()) return;
          if (this.state !== 'unavailable' && this.now() > graceEnd) {
            this.live('unavailable');
            this.owner.log('the guest agent did not answer; the VM runs without it');
          }
          await this.nap(this.state === 'unavailable' ? 5000 : 1000);
          continue;
        }
      }
      const a = this.client;
      if (!a) continue;
      try {
        if (this.owner.state() === 'running') {
          await a.ping(5000);
          if (this.state !== 'ready' || this.seenAt !== null) this.live('ready');
          if (this.ips.length === 0 || this.now() - this.ipsFetchedAt > IPS_REFRESH_MS) {
            const ips = await a.ips().catch(() => this.ips);
            this.ipsFetchedAt = this.now();
            if (run === this.run) this.live('ready', ips);
          }
          if (!this.osAsked) {
            // once per process; an agent without the command (or an old one) leaves it unknown,
            // and a question that did not get through (a busy guest) is asked on the next round
            const os = await a.osInfo().catch(osInfoAfterFailure);
            if (os !== undefined) {
              this.osAsked = true;
              if (run === this.run && os !== this.os) {
                this.os = os;
                this.owner.changed();
              }
            }
          }
        }
      } catch {
        if (run !== this.run) return;
        a.close();
        if (this.client === a) this.client = null;
        this.live('connecting');
        continue;
      }
      await this.nap(this.ips.length === 0 ? 1000 : AGENT_PING_MS);
    }
  }

  /** A pause of the loop that a reset or resume cuts short. */
  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      this.wake = done;
    });
  }

  /** Wait until the agent answers; AGENT_UNAVAILABLE if it gives up or the VM goes away. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = this.now() + timeoutMs;
    const name = this.owner.name();
    while (!(this.state === 'ready' && this.seenAt === null)) {
      const vmState = this.owner.state();
      if (!isActive({ state: vmState })) throw new FlotillaError('AGENT_UNAVAILABLE', `${name} is ${vmState}; its agent cannot answer`);
      if (this.state === 'unavailable') {
        throw new FlotillaError('AGENT_UNAVAILABLE', `the guest agent of ${name} does not answer (is qemu-guest-agent running in the guest?)`);
      }
      const left = deadline - this.now();
      if (left <= 0) throw new FlotillaError('AGENT_UNAVAILABLE', `the guest agent of ${name} did not answer within ${Math.round(timeoutMs / 1000)} s`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** The agent, waiting briefly for it when it is still connecting. */
  async agent(waitMs: number): Promise<AgentClient> {
    const name = this.owner.name();
    const vmState = this.owner.state();
    if (!isActive({ state: vmState })) throw new FlotillaError('INVALID_STATE', `${name} is ${vmState}, not running`);
    if (this.state !== 'unavailable' && !(this.state === 'ready' && this.client)) await this.waitReady(waitMs).catch(() => undefined);
    if (!this.client || this.state !== 'ready') {
      throw new FlotillaError('AGENT_UNAVAILABLE', `the guest agent of ${name} is not available (qemu-guest-agent must run in the guest)`);
    }
    return this.client;
  }
}
