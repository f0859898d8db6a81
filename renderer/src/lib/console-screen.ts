// Console thumbnails: the text a terminal would show for a VM's console, made by a headless
// xterm.js (the emulator the Console tab uses, without a renderer). A regex over the byte stream
// cannot do this: DEC line drawing ("ESC ( 0" then "qqqq") must become box characters, and a
// full-screen program (an installer's menu) paints with cursor moves and the alternate screen,
// so its screen is not the stream's last lines.
import { Terminal } from '@xterm/headless';

/** The size a guest's console assumes when nobody tells it (a serial line or a pty left at 0×0). */
export const SCREEN_COLS = 80;
export const SCREEN_ROWS = 24;

/**
 * How much of the scrollback a new screen replays. What is on screen now was drawn by the recent
 * output; replaying all 256 KiB for each of many tiles would cost the first paint most of its time.
 */
export const REPLAY_BYTES = 64 * 1024;

/** The tail of a console's text worth replaying, starting at a line start when it is cut. */
export function replayTail(text: string, max = REPLAY_BYTES): string {
  if (text.length <= max) return text;
  const cut = text.indexOf('\n', text.length - max);
  return text.slice(cut >= 0 ? cut + 1 : text.length - max);
}

export class ConsoleScreen {
  private readonly term = new Terminal({ cols: SCREEN_COLS, rows: SCREEN_ROWS, scrollback: 0, allowProposedApi: true });

  /** Feeds console output; `done` runs once the emulator has taken it in (xterm parses asynchronously). */
  write(data: string, done?: () => void): void {
    this.term.write(data, done);
  }

  /** Forget everything (the console's text was replaced), then take `data`. */
  reset(data: string, done?: () => void): void {
    this.term.reset();
    this.term.write(data, done);
  }

  /**
   * The screen's rows as text. A full-screen program (alternate screen) keeps all its rows; a
   * shell's screen ends at the cursor's row or the last row with text, so a tile whose text sits
   * at its bottom shows the prompt, not empty rows.
   */
  lines(): string[] {
    const buf = this.term.buffer.active;
    const rows: string[] = [];
    for (let y = 0; y < this.term.rows; y++) rows.push(buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '');
    if (buf.type === 'alternate') return rows;
    let last = buf.cursorY;
    for (let y = rows.length - 1; y > last; y--) {
      if (rows[y] !== '') {
        last = y;
        break;
      }
    }
    return rows.slice(0, last + 1);
  }

  dispose(): void {
    this.term.dispose();
  }
}
