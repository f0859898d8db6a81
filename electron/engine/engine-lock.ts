// Who may become the engine of a data directory. The API socket file alone cannot decide it:
// two processes that both find it stale would both remove it and listen, and two engines
// would run the same VMs. A Linux abstract unix socket named after the user and the data
// directory is an atomic lock that the kernel drops when its holder dies (even by kill -9),
// so there is never a stale lock to clean. Only the holder removes a stale engine.sock.
// (Abstract names have no file permissions: another local user could squat the name and
// keep this user's engine from starting, but could not talk to it.)
import { realpath } from 'node:fs/promises';
import { createServer } from 'node:net';

export interface EngineLock {
  release(): Promise<void>;
}

export async function engineLockName(home: string): Promise<string> {
  const real = await realpath(home).catch(() => home);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  // loaded here, not at the top: a CLI command that finds an engine serving never needs the lock,
  // and node:crypto is ~10–20 ms of its start-up (cliListMs)
  const { createHash } = await import('node:crypto');
  return `\0flotilla-engine-${uid}-${createHash('sha256').update(real).digest('hex').slice(0, 32)}`;
}

/** The lock, or null if another live process holds it. */
export async function tryEngineLock(home: string): Promise<EngineLock | null> {
  const name = await engineLockName(home);
  const server = createServer((c) => c.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve(null);
      else reject(err);
    });
    server.listen(name, () => {
      server.unref();
      resolve({ release: () => new Promise<void>((r) => server.close(() => r())) });
    });
  });
}
