import { describe, expect, it } from 'vitest';
import { makeVm } from '../test-support/fake-transport';
import { hostsHere, hostUse } from './host-bar';

describe('hostUse', () => {
  it('adds up the configured CPUs and memory of the VMs that are up, and only those', () => {
    const a = makeVm('a', { state: 'running' });
    const b = makeVm('b', { state: 'paused' });
    const c = makeVm('c', { state: 'stopped' });
    b.spec.cpus = 2;
    b.spec.memoryMiB = 1024;
    // a paused VM runs no guest code but keeps its memory and vCPUs: counted apart, and in the meters
    expect(hostUse([a, b, c])).toEqual({ running: 1, paused: 1, cpus: 3, memoryBytes: (256 + 1024) * 1024 * 1024, elsewhere: 0, elsewhereHost: null });
    expect(hostUse([])).toEqual({ running: 0, paused: 0, cpus: 0, memoryBytes: 0, elsewhere: 0, elsewhereHost: null });
  });

  it("counts a libvirt host's VMs against this computer only when that libvirt is this computer's", () => {
    const here = hostsHere([
      { id: 'local', uri: undefined },
      { id: 'sys', uri: 'qemu:///system' },
      { id: 'lab', uri: 'qemu+ssh://root@lab.example.org/system' },
    ]);
    expect([...here].sort()).toEqual(['local', 'sys']);
    const mine = makeVm('a', { state: 'running' });
    const onSystem = { ...makeVm('b', { state: 'running' }), host: 'sys' };
    const onLab = { ...makeVm('c', { state: 'running' }), host: 'lab' };
    const labPaused = { ...makeVm('d', { state: 'paused' }), host: 'lab' };
    expect(hostUse([mine, onSystem, onLab, labPaused], here)).toEqual({ running: 2, paused: 0, cpus: 2, memoryBytes: 2 * 256 * 1024 * 1024, elsewhere: 2, elsewhereHost: 'lab' });
    const onLab2 = { ...makeVm('e', { state: 'running' }), host: 'lab2' };
    expect(hostUse([mine, onLab, onLab2], here)).toMatchObject({ running: 1, elsewhere: 2, elsewhereHost: null });
  });
});
