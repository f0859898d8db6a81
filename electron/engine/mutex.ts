// Per-key serialization: work for one key runs one at a time, in call order; different keys run in parallel.
// Used for per-VM spec writes and for the port table.
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    // A failed predecessor must not block or fail the next holder.
    const result = prev.catch(() => undefined).then(fn);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** True while some work for `key` is queued or running. */
  isBusy(key: string): boolean {
    return this.tails.has(key);
  }
}
