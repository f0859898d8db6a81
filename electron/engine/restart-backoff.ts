// Exponential backoff for the `on-failure` restart policy: 1 s, 2 s, 4 s … capped, and
// forgiven once the VM has stayed up for a stable stretch (as systemd's and Kubernetes'
// crash-loop backoff do), so one crash a day never waits minutes.

export interface BackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** running this long without a crash resets the sequence */
  stableMs?: number;
}

export class RestartBackoff {
  private attempts = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly stableMs: number;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 1000;
    this.maxMs = opts.maxMs ?? 60_000;
    this.stableMs = opts.stableMs ?? 60_000;
  }

  /**
   * The delay before the next restart after a crash. `upForMs` is how long the VM ran
   * before this crash: a long stable run starts the sequence over.
   */
  nextDelay(upForMs: number): number {
    if (upForMs >= this.stableMs) this.attempts = 0;
    const delay = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempts, 30));
    this.attempts++;
    return delay;
  }

  reset(): void {
    this.attempts = 0;
  }

  get failures(): number {
    return this.attempts;
  }
}
