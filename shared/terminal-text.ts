// What Flotilla shows of a guest's console on a terminal (the CLI's, or the Console tab's xterm.js):
// what the guest wrote, not its requests to that terminal. A terminal answers a query (the cursor
// position, ESC[6n, that the built-in Linux's shell asks at each boot; the device attributes that
// an editor asks; a colour) by typing the answer in: `flotilla logs VM --serial` returned to a shell
// prompt that then held `^[[35;1R`. Two uses:
// - "text", for `logs --serial` to a terminal: text with its colours (SGR) and the character-set
//   switches that draw boxes; every other escape sequence and control character goes (an OSC could
//   also set the window title or the clipboard);
// - "replay", for the scrollback a console shows on opening (`flotilla console`, the Console tab):
//   all of it but the queries, asked long ago (answered now, the answers would be typed into what
//   reads the console now). Live output is the guest's own conversation with the terminal and
//   stays as it is.
// Streaming: a sequence cut between two chunks waits for the rest.

export type TerminalTextMode = 'text' | 'replay';

const ESC = '\x1b';
/** a sequence longer than this is not one a terminal would act on: dropped, as garbage */
const MAX_SEQUENCE = 4096;

/** CSI finals that ask the terminal for an answer: DSR/CPR (n), DA (c), DECREQTPARM (x), window reports (t) */
const CSI_QUERY_FINALS = new Set(['n', 'c', 'x', 't']);

/** Where the escape sequence that starts at `i` (an ESC) ends (exclusive), or -1 if `s` ends first. */
function sequenceEnd(s: string, i: number): number {
  if (i + 1 >= s.length) return -1;
  const kind = s[i + 1]!;
  if (kind === '[') {
    for (let j = i + 2; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (c >= 0x40 && c <= 0x7e) return j + 1;
      if (c < 0x20 || c > 0x3f) return j; // not a CSI byte: the sequence is broken off here
    }
    return -1;
  }
  if (kind === ']' || kind === 'P' || kind === 'X' || kind === '^' || kind === '_') {
    // a control string: to BEL (OSC only) or ST (ESC \)
    for (let j = i + 2; j < s.length; j++) {
      if (s[j] === '\x07' && kind === ']') return j + 1;
      if (s[j] === ESC) return j + 1 >= s.length ? -1 : s[j + 1] === '\\' ? j + 2 : j;
    }
    return -1;
  }
  // ESC, intermediates (0x20-0x2f), one final: a charset designation (ESC ( 0), save cursor (ESC 7)…
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c >= 0x30 && c <= 0x7e) return j + 1;
    if (c < 0x20 || c > 0x2f) return j;
  }
  return -1;
}

function keepSequence(seq: string, mode: TerminalTextMode): boolean {
  const kind = seq[1];
  const final = seq[seq.length - 1]!;
  if (kind === '[') {
    const body = seq.slice(2, -1);
    if (mode === 'text') return final === 'm' && /^[0-9;:]*$/.test(body);
    if (CSI_QUERY_FINALS.has(final)) return false;
    // DECRQM (CSI ? Ps $ p) asks whether a mode is set
    return !(final === 'p' && body.endsWith('$'));
  }
  if (kind === ']') return mode === 'replay' && !seq.includes('?');
  if (kind === 'P' || kind === 'X' || kind === '^' || kind === '_') return false;
  // designations of G0-G3 (the DEC line drawing set that boxes use) stay in both
  if (kind === '(' || kind === ')' || kind === '*' || kind === '+') return true;
  // the rest move the cursor or reset: only replay keeps them, except DECID (ESC Z), a query
  return mode === 'replay' && seq !== `${ESC}Z`;
}

function keepControl(c: number, mode: TerminalTextMode): boolean {
  if (c >= 0x80 && c <= 0x9f) return false; // C1: some terminals take 0x9b as CSI
  if (mode === 'replay') return c !== 0x05; // ENQ asks for the answerback
  return c === 0x09 || c === 0x0a || c === 0x0d || c === 0x08 || c === 0x0e || c === 0x0f;
}

export class TerminalTextFilter {
  private pending = '';

  constructor(private readonly mode: TerminalTextMode) {}

  /** The printable part of `chunk`; a sequence it ends in the middle of is held for the next. */
  push(chunk: string): string {
    const s = this.pending + chunk;
    this.pending = '';
    let out = '';
    let from = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      const control = c < 0x20 || (c >= 0x7f && c <= 0x9f);
      if (!control) continue;
      out += s.slice(from, i);
      if (c === 0x1b) {
        const end = sequenceEnd(s, i);
        if (end < 0) {
          if (s.length - i <= MAX_SEQUENCE) this.pending = s.slice(i);
          return out;
        }
        const seq = s.slice(i, end);
        if (keepSequence(seq, this.mode)) out += seq;
        i = end - 1;
      } else if (keepControl(c, this.mode)) {
        out += s[i];
      }
      from = i + 1;
    }
    return out + s.slice(from);
  }

  /** The end of the stream: a sequence still incomplete is dropped. */
  end(): string {
    this.pending = '';
    return '';
  }
}

/** All of `s` through a filter of `mode` (a whole text, not a stream). */
export function terminalText(s: string, mode: TerminalTextMode): string {
  const f = new TerminalTextFilter(mode);
  return f.push(s) + f.end();
}
