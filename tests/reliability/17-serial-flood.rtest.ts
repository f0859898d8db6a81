// Check 17: a guest floods its serial console, first with no one watching, then with a
// viewer that subscribes over the engine socket and never reads. Engine memory stays
// bounded, the serial log stays capped (rotating), and QMP answers within 500 ms throughout.
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../electron/engine/engine';
import { openEngine, type OpenedEngine } from '../../electron/engine/open-engine';
import { HomeLayout } from '../../electron/engine/paths';
import type { QmpClient } from '../../electron/engine/qmp-client';
import { cleanupHome, makeHome, TEST_ENGINE_OPTIONS, TestClient } from '../integration/fixtures/engine-harness';
import { reportFigure, scale } from './fixtures/figures';

const FLOOD_S = scale(12, 60);
const LOG_CAP = 1 << 20;

describe('check 17: serial console flood', () => {
  let home: string;
  let opened: OpenedEngine;
  let client: TestClient;
  beforeAll(async () => {
    home = await makeHome();
    opened = await openEngine({ home, shell: 'serve', engine: TEST_ENGINE_OPTIONS });
    client = new TestClient(opened.engine as Engine);
  });
  afterAll(async () => {
    client?.close();
    await opened?.engine?.stopAll({ deadlineMs: 3000, includeKeepRunning: true });
    await opened?.close();
    await cleanupHome(home);
  });

  it(`memory bounded, log capped, QMP under 500 ms during a ${FLOOD_S} s flood`, async () => {
    const engine = opened.engine!;
    const vm = await client.call('vm.create', { config: { name: 'flood', source: { kind: 'default' }, memoryMiB: 128 } });
    // earlier sessions already filled most of the log: this flood must push it past the cap
    const logs = new HomeLayout(home).vmLogsDir(vm.id);
    await mkdir(logs, { recursive: true });
    await writeFile(join(logs, 'serial.log'), 'earlier output\n'.repeat(Math.floor((LOG_CAP - 200 * 1024) / 15)));
    await client.call('vm.start', { id: vm.id, waitAgent: true });
    const flood = `until [ -L /dev/flotilla-console ]; do usleep 50000; done; (end=$(($(date +%s)+${FLOOD_S})); while [ $(date +%s) -lt $end ]; do cat /proc/cpuinfo /proc/self/maps; done) > /dev/flotilla-console 2>&1 </dev/null &`;
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    await client.call('vm.exec', { id: vm.id, command: ['/bin/sh', '-c', flood] });
    const qmp = (): QmpClient | null => (engine.supervisor(vm.id) as unknown as { qmp: QmpClient | null }).qmp;
    let worstQmp = 0;
    let maxRss = rss0;
    let samples = 0;
    let viewer: ReturnType<typeof createConnection> | null = null;
    const end = Date.now() + FLOOD_S * 1000;
    while (Date.now() < end) {
      if (!viewer && Date.now() > end - (FLOOD_S * 1000) / 2) {
        // second half: a viewer that subscribes and never reads
        viewer = createConnection(new HomeLayout(home).engineSock);
        viewer.write(JSON.stringify({ t: 'req', id: 1, method: 'console.subscribe', params: { id: vm.id } }) + '\n');
        viewer.pause();
      }
      const t0 = performance.now();
      const r = await qmp()!.execute<{ status: string }>('query-status', {}, { timeoutMs: 5000 });
      worstQmp = Math.max(worstQmp, performance.now() - t0);
      expect(r.status).toBe('running');
      maxRss = Math.max(maxRss, process.memoryUsage().rss);
      samples++;
      await new Promise((res) => setTimeout(res, 250));
    }
    viewer?.destroy();
    const files = (await readdir(logs)).filter((f) => f.startsWith('serial.log'));
    const sizes = await Promise.all(files.map(async (f) => (await stat(join(logs, f))).size));
    console.log(`[reliability] check 17: ${samples} QMP samples, worst ${worstQmp.toFixed(0)} ms; rss ${(rss0 / 2 ** 20).toFixed(0)} → max ${(maxRss / 2 ** 20).toFixed(0)} MiB; serial logs ${files.map((f, i) => `${f}=${sizes[i]}`).join(' ')}`);
    expect(files).toContain('serial.log.1'); // the flood really went past the cap
    for (const s of sizes) expect(s).toBeLessThanOrEqual(LOG_CAP + 64 * 1024);
    expect(files.length).toBeLessThanOrEqual(3);
    expect(worstQmp).toBeLessThan(500);
    expect(maxRss - rss0).toBeLessThan(256 * 2 ** 20);
    expect((await client.call('vm.get', { id: vm.id })).state).toBe('running');
    reportFigure({ check: 17, title: 'serial flood, no viewer then a stalled viewer', load: `${FLOOD_S} s flood, ${samples} QMP probes (worst ${worstQmp.toFixed(0)} ms)`, faults: 1, badInputs: 0, lost: 0 });
  });
});
