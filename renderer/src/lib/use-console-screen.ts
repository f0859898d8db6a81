// A tile's console thumbnail: a headless terminal (console-screen.ts) fed from the VM's console
// stream while the tile shows it, and the screen's text, refreshed at most a few times a second
// (a flooding guest must not re-render the grid per chunk).
import { useEffect, useState } from 'react';
import { addConsoleSink } from '../store/streams';
import { useStore } from '../store/store';
import { ConsoleScreen, replayTail } from './console-screen';

export const SCREEN_REFRESH_MS = 250;

export function useConsoleScreen(id: string): string {
  const [text, setText] = useState('');
  useEffect(() => {
    const screen = new ConsoleScreen();
    let timer: ReturnType<typeof setTimeout> | null = null;
    let disposed = false;
    const show = (): void => {
      timer = null;
      if (!disposed) setText(screen.lines().join('\n'));
    };
    const later = (): void => {
      timer ??= setTimeout(show, SCREEN_REFRESH_MS);
    };
    const existing = useStore.getState().consoles.text[id];
    if (existing) screen.write(replayTail(existing), show);
    const off = addConsoleSink(id, {
      data: (chunk) => screen.write(chunk, later),
      reset: (all) => screen.reset(replayTail(all), show),
    });
    return () => {
      disposed = true;
      off();
      if (timer) clearTimeout(timer);
      screen.dispose();
    };
  }, [id]);
  return text;
}
