import { describe, expect, it } from 'vitest';
import { ConsoleScreen, replayTail, SCREEN_ROWS } from './console-screen';

function screenOf(...chunks: string[]): Promise<string[]> {
  const s = new ConsoleScreen();
  return new Promise((resolve) => {
    chunks.forEach((c, i) => s.write(c, i === chunks.length - 1 ? () => resolve(s.lines()) : undefined));
  }).finally(() => s.dispose()) as Promise<string[]>;
}

describe('console thumbnails through a headless terminal', () => {
  it('shows DEC line drawing as box characters, not qqqq', async () => {
    const lines = await screenOf('\x1b(0lqqqk\r\nx   x\r\nmqqqj\x1b(B\r\nvm:~# ');
    expect(lines).toEqual(['┌───┐', '│   │', '└───┘', 'vm:~# ']);
  });

  it("shows a full-screen program's whole screen (alternate screen, cursor moves), not its last line", async () => {
    const menu = [
      'before\r\n',
      '\x1b[?1049h\x1b[2J', // alternate screen, cleared
      '\x1b[5;10H[!!] Select a language',
      '\x1b[7;12HEnglish',
      '\x1b[8;12HDeutsch',
      '\x1b[20;10H<Go Back>',
      '\x1b[7;12H', // the cursor back on the selection
    ];
    const lines = await screenOf(...menu);
    expect(lines).toHaveLength(SCREEN_ROWS);
    expect(lines[4]).toBe('         [!!] Select a language');
    expect(lines[6]).toBe('           English');
    expect(lines[7]).toBe('           Deutsch');
    expect(lines[19]).toBe('         <Go Back>');
    expect(lines.join('\n')).not.toContain('before');
  });

  it("a shell's screen: colours and carriage returns gone, ending at the prompt", async () => {
    const lines = await screenOf('\x1b[1;32mok\x1b[0m line\r\nprogress 10%\rprogress 99%\r\nvm:~# ');
    expect(lines).toEqual(['ok line', 'progress 99%', 'vm:~# ']);
  });

  it('replays a tail that starts at a line start', () => {
    expect(replayTail('short')).toBe('short');
    expect(replayTail('aaaa\nbbbb\ncccc', 8)).toBe('cccc');
  });
});
