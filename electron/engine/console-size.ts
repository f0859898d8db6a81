// The console's window size. The built-in Linux's shell runs on a pty in the guest
// (assets/guest/console names it /dev/flotilla-console), and a serial line carries no window
// size: the pty said 0 × 0, so full-screen programs (vi, top, less) drew 80 × 24 in any window.
// A client says its terminal's size (`console.resize`), and the engine sets it on that pty through
// the guest agent (`stty -F /dev/flotilla-console rows R cols C`; the kernel then sends the
// shell's foreground job SIGWINCH, as a terminal window's resize does), and notes it for the
// shell that init starts after an `exit`, whose new pty would say 0 × 0 again.
//
// A dragged window sends many sizes: one exec runs at a time per VM, and a size that arrives
// meanwhile replaces the one waiting, so the last size is the one the guest ends with.
import type { ExecResult } from '../../shared/contract';
import { FlotillaError } from '../../shared/errors';

export interface ConsoleSize {
  cols: number;
  rows: number;
}

/** the pty the built-in Linux's console shell runs on */
export const CONSOLE_TTY = '/dev/flotilla-console';

/** where the guest keeps the last size, for a shell started again on a new pty (`exit` at the prompt) */
export const CONSOLE_SIZE_FILE = '/run/flotilla-console-size';

/**
 * The guest command that sets the console pty's size and notes it for the next shell
 * (assets/guest/console reads it). The script is fixed; the numbers go in as its arguments.
 */
export function sttyCommand(size: ConsoleSize): string[] {
  const script = `stty -F ${CONSOLE_TTY} rows "$1" cols "$2" && echo "$1 $2" > ${CONSOLE_SIZE_FILE}`;
  return ['sh', '-c', script, 'flotilla-console-size', String(size.rows), String(size.cols)];
}

/** Throws the guest's own words when its stty failed. */
export function checkStty(r: ExecResult): void {
  if (r.exitCode === 0) return;
  const why = (r.stderr || r.stdout).trim().slice(0, 300) || `exit code ${r.exitCode ?? `signal ${r.signal ?? '?'}`}`;
  throw new FlotillaError('AGENT_ERROR', `setting the console's size in the guest failed: ${why}`);
}

type Outcome = 'applied' | 'superseded';
interface Waiting<T> {
  value: T;
  done: (r: Outcome) => void;
  fail: (e: unknown) => void;
}

/** Per key, one apply at a time; while one runs, the newest value waits and older waiting ones are dropped. */
export class LatestWins<T> {
  /** keys with an apply under way, and the value waiting behind it */
  private readonly running = new Map<string, Waiting<T> | null>();

  run(key: string, value: T, apply: (v: T) => Promise<void>): Promise<Outcome> {
    return new Promise<Outcome>((done, fail) => {
      const me: Waiting<T> = { value, done, fail };
      if (this.running.has(key)) {
        this.running.get(key)?.done('superseded');
        this.running.set(key, me);
        return;
      }
      this.running.set(key, null);
      void this.drain(key, me, apply);
    });
  }

  private async drain(key: string, first: Waiting<T>, apply: (v: T) => Promise<void>): Promise<void> {
    for (let w: Waiting<T> | null = first; w; ) {
      try {
        await apply(w.value);
        w.done('applied');
      } catch (e) {
        w.fail(e);
      }
      w = this.running.get(key) ?? null;
      if (w) this.running.set(key, null);
    }
    this.running.delete(key);
  }
}
