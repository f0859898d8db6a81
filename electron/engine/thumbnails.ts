// Periodic PNG thumbnails of one VM's display, taken only while someone is subscribed
// (a screendump costs QEMU a full-frame encode). The capture itself (QMP `screendump`
// with format png) is injected so this schedule can be tested without QEMU.
import { readFile, unlink } from 'node:fs/promises';
import type { QmpClient } from './qmp-client';

export const THUMBNAIL_INTERVAL_MS = 3000;

export type ThumbnailListener = (pngBase64: string) => void;

export class Thumbnailer {
  private readonly listeners = new Map<string, ThumbnailListener>();
  private timer: NodeJS.Timeout | null = null;
  private latest: string | null = null;
  private busy = false;

  constructor(
    private readonly capture: () => Promise<Buffer | null>,
    private readonly intervalMs = THUMBNAIL_INTERVAL_MS,
  ) {}

  /** Returns the latest PNG (base64) if any; new ones follow through `cb`. */
  subscribe(key: string, cb: ThumbnailListener): string | null {
    this.listeners.set(key, cb);
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.intervalMs);
      this.timer.unref();
      void this.tick();
    }
    return this.latest;
  }

  unsubscribe(key: string): void {
    this.listeners.delete(key);
    if (this.listeners.size === 0) this.stop();
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  /** Take one now (also used by tests and `vm.thumbnail` on demand). */
  async tick(): Promise<string | null> {
    if (this.busy) return this.latest;
    this.busy = true;
    try {
      const png = await this.capture();
      if (png && png.length > 0) {
        this.latest = png.toString('base64');
        for (const cb of [...this.listeners.values()]) {
          try {
            cb(this.latest);
          } catch {
            /* ignore a failing subscriber */
          }
        }
      }
    } catch {
      /* VM paused/stopping or display not ready: try again next tick */
    } finally {
      this.busy = false;
    }
    return this.latest;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  close(): void {
    this.stop();
    this.listeners.clear();
  }
}

/** QMP screendump straight to PNG (QEMU ≥ 7.1), read back and removed. */
export async function screendumpPng(qmp: QmpClient, file: string): Promise<Buffer> {
  await qmp.execute('screendump', { filename: file, format: 'png' }, { timeoutMs: 10_000 });
  try {
    return await readFile(file);
  } finally {
    await unlink(file).catch(() => undefined);
  }
}
