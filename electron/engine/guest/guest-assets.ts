// Finds assets/guest/ (the init recipe) both in the source tree (tests, tsx) and next to the
// bundled CLI (dist/cli/flotilla.js → ../../assets) or in a packaged app's resources.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const GUEST_ASSET_FILES = ['init', 'inittab', 'shutdown', 'halt', 'power-button', 'profile', 'console', 'dhcp', 'relay.c'] as const;

function here(): string[] {
  // __dirname exists in the CommonJS bundle and under vitest; elsewhere the cwd walk finds the repo
  return typeof __dirname !== 'undefined' ? [__dirname] : [];
}

export function findGuestAssetsDir(): string {
  const explicit = process.env.FLOTILLA_ASSETS;
  if (explicit && existsSync(join(explicit, 'guest', 'init'))) return resolve(explicit, 'guest');
  const starts: string[] = [];
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  if (resources) starts.push(resources);
  starts.push(...here(), process.cwd());
  for (const start of starts) {
    let dir = start;
    for (let i = 0; i < 8; i++) {
      const candidate = join(dir, 'assets', 'guest');
      if (existsSync(join(candidate, 'init'))) return candidate;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new Error('cannot find assets/guest/init (the default guest recipe); set FLOTILLA_ASSETS to the assets directory');
}
