import { describe, expect, it } from 'vitest';
import { TerminalTextFilter, terminalText } from './terminal-text';

const ESC = '\x1b';

describe('terminalText', () => {
  it('keeps text, line ends, tabs, colours and the line-drawing switches of a boot transcript', () => {
    const boot = `[    0.000000] Linux\r\n${ESC}[1;32mok${ESC}[0m\tdone\r\n${ESC}(0lqqk${ESC}(B\r\n`;
    expect(terminalText(boot, 'text')).toBe(boot);
  });

  it('drops the queries a terminal would answer by typing: the shell prompt\'s ESC[6n among them', () => {
    const prompt = `k2:~# ${ESC}[6n`;
    expect(terminalText(prompt, 'text')).toBe('k2:~# ');
    expect(terminalText(prompt, 'replay')).toBe('k2:~# ');
    for (const q of [`${ESC}[c`, `${ESC}[>c`, `${ESC}[5n`, `${ESC}[18t`, `${ESC}[?2004$p`, `${ESC}]11;?\x07`, `${ESC}]52;c;?${ESC}\\`, `${ESC}P$qm${ESC}\\`, `${ESC}Z`, '\x05']) {
      expect(terminalText(`a${q}b`, 'replay'), JSON.stringify(q)).toBe('ab');
      expect(terminalText(`a${q}b`, 'text'), JSON.stringify(q)).toBe('ab');
    }
  });

  it('text: no cursor moves, titles, clipboard writes, bells or C1 controls; replay keeps what draws the screen', () => {
    const screen = `${ESC}[2J${ESC}[H${ESC}[?1049h${ESC}7x${ESC}8${ESC}]0;title\x07\x07`;
    expect(terminalText(`a${screen}b`, 'text')).toBe('axb');
    expect(terminalText(`a${screen}b`, 'replay')).toBe(`a${screen}b`);
    expect(terminalText(`a${ESC}]52;c;aGk=\x07b\u009b6nc`, 'text')).toBe('ab6nc');
    expect(terminalText('a\u009b6nb', 'replay')).toBe('a6nb');
  });

  it('holds a sequence cut between chunks until its end comes, whatever the cut', () => {
    const whole = `one ${ESC}[6n two ${ESC}[1;31mred${ESC}[0m ${ESC}]0;t${ESC}\\ three`;
    for (let cut = 0; cut <= whole.length; cut++) {
      const f = new TerminalTextFilter('text');
      expect(f.push(whole.slice(0, cut)) + f.push(whole.slice(cut)) + f.end(), `cut at ${cut}`).toBe(`one  two ${ESC}[1;31mred${ESC}[0m  three`);
    }
  });

  it('an escape that never ends is not held forever', () => {
    const f = new TerminalTextFilter('text');
    expect(f.push(`${ESC}]0;${'x'.repeat(5000)}`)).toBe('');
    expect(f.push('after')).toBe('after');
  });
});
