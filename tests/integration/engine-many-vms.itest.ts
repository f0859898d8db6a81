// Issue 3: several default-guest VMs started at once all reach agent-ready, get distinct
// forwarded ports that answer on 127.0.0.1, run commands through the agent, and leave no
// QEMU, socket or pidfile behind once stopped.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VmInfo } from '../../shared/contract';
import { cleanupHome, makeHome, openTestEngine, processesUsing, runLeftovers, type TestClient } from './fixtures/engine-harness';
import type { Engine } from '../../electron/engine/engine';

const COUNT = Number(process.env.FLOTILLA_ITEST_VMS ?? 4);

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/index.html', timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe(`${COUNT} default-guest VMs at once`, () => {
  let home: string;
  let engine: Engine;
  let client: TestClient;
  let vms: VmInfo[] = [];

  beforeAll(async () => {
    home = await makeHome();
    ({ engine, client } = await openTestEngine(home));
  });

  afterAll(async () => {
    client?.close();
    await engine?.close({ stopVms: false });
    await cleanupHome(home);
  });

  it('all reach agent-ready with distinct, reachable forwarded ports, and exec works in each', async () => {
    const created = await Promise.all(
      Array.from({ length: COUNT }, (_, i) =>
        client.call('vm.create', { config: { name: `vm${i}`, source: { kind: 'default' }, memoryMiB: 256, forwards: [{ guestPort: 8080 }] } }),
      ),
    );
    vms = await Promise.all(created.map((vm) => client.call('vm.start', { id: vm.id, waitAgent: true })));
    for (const vm of vms) {
      expect(vm.state).toBe('running');
      expect(vm.agent).toBe('ready');
      expect(vm.pid).toBeGreaterThan(1);
    }
    // the agent reports each guest's address on QEMU user networking
    for (const vm of vms) expect((await client.waitVm(vm.id, (v) => v.ips.length > 0, `IPs of ${vm.name}`, 30_000)).ips).toContain('10.0.2.15');
    const ports = vms.map((vm) => vm.ports.find((p) => p.purpose === 'forward' && p.guestPort === 8080)!.hostPort);
    expect(new Set(ports).size).toBe(COUNT);

    await Promise.all(
      vms.map(async (vm, i) => {
        const r = await client.call('vm.exec', { id: vm.id, command: ['/bin/sh', '-c', 'echo "hello from $(hostname)"; echo oops >&2; exit 7'] });
        expect(r).toMatchObject({ exitCode: 7, stdout: `hello from vm${i}\n`, stderr: 'oops\n' });
        await client.call('vm.writeFile', { id: vm.id, path: '/tmp/www/index.html', dataBase64: Buffer.from(`page of vm${i}\n`).toString('base64') }).catch(async () => {
          await client.call('vm.exec', { id: vm.id, command: ['/bin/mkdir', '-p', '/tmp/www'] });
          await client.call('vm.writeFile', { id: vm.id, path: '/tmp/www/index.html', dataBase64: Buffer.from(`page of vm${i}\n`).toString('base64') });
        });
        const srv = await client.call('vm.exec', { id: vm.id, command: ['/bin/busybox', 'httpd', '-p', '8080', '-h', '/tmp/www'] });
        expect(srv.exitCode).toBe(0);
      }),
    );
    const bodies = await Promise.all(ports.map((p) => httpGet(p)));
    expect(bodies).toEqual(vms.map((_, i) => `page of vm${i}\n`));
  });

  it('after stopping all, no QEMU of this data dir is left and no stale sockets or pidfiles', async () => {
    const r = await client.call('engine.stopAll', { deadlineMs: 20_000, includeKeepRunning: true });
    expect(r.stopped.sort()).toEqual(vms.map((v) => v.id).sort());
    const after = await client.call('vm.list', {});
    for (const vm of after) {
      expect(vm.state).toBe('stopped');
      expect(vm.pid).toBeNull();
      expect(vm.ports).toEqual([]);
    }
    expect(await processesUsing(home)).toEqual([]);
    expect(await runLeftovers(home)).toEqual([]);
  });
});
