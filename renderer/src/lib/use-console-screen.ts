// A tile's console thumbnail: a headless terminal (console-screen.ts) fed from the VM's console
// stream while the tile shows it, and the screen's text, refreshed at most a few times a second
// (a flooding guest must not re-render the grid per chunk). The terminal emulator (xterm.js,
// ~150 KB of source) is loaded with the first console thumbnail, not before the first tile
// is painted (issue 15, firstTileMs).
import { useEffect, useState } from 'react';
import { addConsoleSink } from '../store/streams';
import { useStore } from '../store/store';
import type { ConsoleScreen } from './console-screen';

let screenModule: Promise<typeof import('./console-screen')> | null = null;
const loadScreen = (): Promise<typeof import('./console-screen')> => (screenModule ??= import('./console-screen'));

export const SCREEN_REFRESH_MS = 250;

export function useConsoleScreen(id: string): string {
  const [text, setText] = useState('');
  useEffect(() => {
    let screen: ConsoleScreen | null = null;
    let off: (() => void) | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let disposed = false;
    const show = (): void => {
      timer = null;
      if (!disposed && screen) setText(screen.lines().join('\n'));
    };
    const later = (): void => {
      timer ??= setTimeout(show, SCREEN_REFRESH_MS);
    };
    void loadScreen().then(({ ConsoleScreen, replayTail }) => {
      if (disposed) return;
      const term = (screen = new ConsoleScreen());
      // the store keeps the console's text, so what arrived while xterm.js loaded is in it; the
      // replay and the sink start in the same task, so no chunk falls between them
      const existing = useStore.getState().consoles.text[id];
      if (existing) term.write(replayTail(existing), show);
      off = addConsoleSink(id, {
        data: (chunk) => term.write(chunk, later),
        reset: (all) => term.reset(replayTail(all), show),
      });
    });
    return () => {
      disposed = true;
      off?.();
      if (timer) clearTimeout(timer);
      screen?.dispose();
    };
  }, [id]);
  return text;
}
