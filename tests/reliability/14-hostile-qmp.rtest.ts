// Check 14: a QMP peer sends malformed, oversized, interleaved and truncated replies. The
// QMP client never throws and matches replies by id; under a real engine the VM is marked
// "QMP unhealthy" (not crashed), its process is never killed, and everything recovers once
// QMP talks sense again.
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QmpClient } from '../../electron/engine/qmp-client';
import { cleanupHome, makeHome, openTestEngine, type TestClient } from '../integration/fixtures/engine-harness';
import type { Engine } from '../../electron/engine/engine';
import { reportFigure, scale } from './fixtures/figures';

const HOSTILE_QEMU = resolve(__dirname, 'fixtures/hostile-qemu.cjs');

/** One hostile answer per command, then (for some) the real one. */
const GARBAGE = [
  '{"return": {"status": "runn',
  '[]',
  'null',
  '12345',
  '{"event": 42}',
  '{"return": {}, "id": "not-a-pending-id"}',
  '{"error": {"class": "GenericError"}, "id": {"nested": true}}',
  '{"__proto__": {"polluted": true}, "return": {}}',
  '{"event": "STOP", "data": null, "timestamp": "yesterday"}',
  '\u0000\u00ff\ufffd',
];

describe('check 14: hostile QMP', () => {
  let home: string;
  let dir: string;

  beforeAll(async () => {
    home = await makeHome();
    dir = home;
  });
  afterAll(async () => {
    await cleanupHome(home);
  });

  it('the QMP client survives garbage, oversized lines and truncation and keeps matching replies', async () => {
    const rounds = scale(150, 3000);
    const sock = join(dir, 'fake-qmp.sock');
    let conns = 0;
    const server: Server = createServer((c: Socket) => {
      conns++;
      c.on('error', () => undefined);
      c.write('{"QMP": {"version": {}, "capabilities": []}}\n');
      let buf = '';
      let n = 0;
      c.on('data', (d) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const msg = JSON.parse(buf.slice(0, nl)) as { execute: string; id: string; arguments?: { n: number } };
          buf = buf.slice(nl + 1);
          if (msg.execute === 'qmp_capabilities') {
            c.write(JSON.stringify({ return: {}, id: msg.id }) + '\n');
            continue;
          }
          n++;
          const g = GARBAGE[n % GARBAGE.length]!;
          // interleave: garbage, an event, a partial write split mid-line, then the real reply
          c.write(g + '\n');
          c.write(JSON.stringify({ event: 'RTC_CHANGE', data: {}, timestamp: { seconds: 0, microseconds: 0 } }) + '\n');
          if (n % 50 === 0) c.write(Buffer.concat([Buffer.alloc((16 << 20) + 10, 0x7b), Buffer.from('\n')])); // over the 16 MiB line cap
          const real = JSON.stringify({ return: { echo: msg.arguments?.n }, id: msg.id }) + '\n';
          c.write(real.slice(0, 7));
          setImmediate(() => c.write(real.slice(7)));
        }
      });
    });
    await new Promise<void>((r) => server.listen(sock, r));
    let protocolErrors = 0;
    let answered = 0;
    try {
      const qmp = await QmpClient.connect(sock, { timeoutMs: 5000 });
      qmp.on('protocol-error', () => protocolErrors++);
      for (let i = 0; i < rounds; i++) {
        const r = await qmp.execute<{ echo: number }>('echo', { n: i }, { timeoutMs: 10_000 });
        expect(r.echo).toBe(i);
        answered++;
      }
      qmp.close();
      // truncated: half a greeting, then the peer hangs up; connect fails cleanly
      const cut: Server = createServer((c) => {
        c.write('{"QMP": {"vers');
        c.destroy();
      });
      const cutSock = join(dir, 'cut.sock');
      await new Promise<void>((r) => cut.listen(cutSock, r));
      await expect(QmpClient.connect(cutSock, { timeoutMs: 3000 })).rejects.toMatchObject({ code: 'DISCONNECTED' });
      await new Promise<void>((r) => cut.close(() => r()));
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    expect(protocolErrors).toBeGreaterThanOrEqual(rounds / 2);
    expect(conns).toBe(1);
    reportFigure({ check: 14, title: 'hostile QMP vs QmpClient', load: `${rounds} commands on one connection`, faults: 1, badInputs: protocolErrors, lost: rounds - answered });
  });

  it('under the engine: QMP unhealthy, the VM neither crashed nor killed, and it recovers', async () => {
    const ctl = join(dir, 'hostile.ctl');
    await writeFile(ctl, 'good');
    let engine: Engine | null = null;
    let client: TestClient | null = null;
    try {
      ({ engine, client } = await openTestEngine(home, {
        spawn: (_cmd, args, o) => spawn(process.execPath, [HOSTILE_QEMU, ...args], { ...o, env: { ...process.env, HOSTILE_CTL: ctl } }),
      }));
      const c = client;
      const vm = await c.call('vm.create', { config: { name: 'hostile', source: { kind: 'default' } } });
      const up = await c.call('vm.start', { id: vm.id });
      expect(up).toMatchObject({ state: 'running', qmpHealthy: true });
      const pid = up.pid!;

      await writeFile(ctl, 'hostile');
      const sick = await c.waitVm(vm.id, (v) => !v.qmpHealthy, 'QMP marked unhealthy', 30_000);
      expect(sick).toMatchObject({ state: 'running', pid });
      // commands fail cleanly while QMP talks nonsense
      const paused = await c.call('vm.pause', { id: vm.id }).then(
        () => null,
        (e: { code: string }) => e.code,
      );
      expect(paused === null || ['QMP_ERROR', 'TIMEOUT'].includes(paused)).toBe(true);
      process.kill(pid, 0);

      await writeFile(ctl, 'truncate');
      await c.waitFor('vm.log', (p) => p.id === vm.id && /QMP connection restored|QMP sent something|did not answer/.test(p.entry.text), 'a truncated reply noticed', 30_000).catch(() => undefined);
      const stats0 = JSON.parse(await readFile(`${ctl}.stats`, 'utf8')) as Record<string, number>;
      expect((await c.call('vm.get', { id: vm.id })).state).not.toBe('crashed');
      process.kill(pid, 0);

      await writeFile(ctl, 'good');
      const well = await c.waitVm(vm.id, (v) => v.qmpHealthy && v.state === 'running', 'QMP healthy again', 30_000);
      expect(well.pid).toBe(pid);
      expect((await c.call('vm.pause', { id: vm.id })).state).toBe('paused');
      expect((await c.call('vm.resume', { id: vm.id })).state).toBe('running');
      expect((await c.call('engine.info', {})).pid).toBe(process.pid);

      const stats = JSON.parse(await readFile(`${ctl}.stats`, 'utf8')) as Record<string, number>;
      await c.call('vm.stop', { id: vm.id });
      const bad = stats.malformed! + stats.oversized! + stats.interleaved! + stats.truncated!;
      reportFigure({
        check: 14,
        title: 'hostile QMP under the engine',
        load: `1 VM, ${stats.connections} QMP connections`,
        faults: stats0.truncated! + (stats.connections! - 1),
        badInputs: bad,
        lost: 0,
      });
      expect(bad).toBeGreaterThan(0);
    } finally {
      client?.close();
      await engine?.close();
      await rm(ctl, { force: true });
    }
  });
});
