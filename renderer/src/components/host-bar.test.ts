import { describe, expect, it } from 'vitest';
import { makeVm } from '../test-support/fake-transport';
import { hostUse } from './host-bar';

describe('hostUse', () => {
  it('adds up the configured CPUs and memory of the VMs that are up, and only those', () => {
    const a = makeVm('a', { state: 'running' });
    const b = makeVm('b', { state: 'paused' });
    const c = makeVm('c', { state: 'stopped' });
    b.spec.cpus = 2;
    b.spec.memoryMiB = 1024;
    // a paused VM runs no guest code but keeps its memory and vCPUs: counted apart, and in the meters
    expect(hostUse([a, b, c])).toEqual({ running: 1, paused: 1, cpus: 3, memoryBytes: (256 + 1024) * 1024 * 1024 });
    expect(hostUse([])).toEqual({ running: 0, paused: 0, cpus: 0, memoryBytes: 0 });
  });
});
