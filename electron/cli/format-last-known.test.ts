import { describe, expect, it } from 'vitest';
import { capsOf } from '../../shared/contract';
import { fakeVm } from '../headless/testing/fake-handler';
import { formatInfo, formatList } from './format';

describe('CLI output of what an engine only knows from the runtime record', () => {
  it('marks agent state and IPs as last known, and shows when a graceful stop will be forced', () => {
    const seen = fakeVm('vm00000001', 'web', { state: 'running', agent: 'ready', ips: ['10.0.2.15'], agentLastSeen: '2026-12-05T10:00:00.000Z' });
    expect(formatList([seen])).toMatch(/web\s+running\s+ready \(last known\)\s+-\s+10\.0\.2\.15/);
    expect(formatInfo(seen)).toMatch(/agent:\s+ready \(last known, seen 2026-12-05T10:00:00.000Z\)/);
    const live = fakeVm('vm00000002', 'db', { state: 'stopping', agent: 'ready', stopDeadline: '2026-12-05T10:00:30.000Z' });
    expect(formatList([live])).not.toMatch(/last known/);
    expect(formatInfo(live)).toMatch(/forced stop at:\s+2026-12-05T10:00:30.000Z/);
  });
});

describe('flotilla info', () => {
  it('keeps a value of several lines (qemu-img check) in its column', () => {
    const vm = fakeVm('vm00000003', 'web', { lastDiskCheck: { at: '2026-12-06T12:00:00.000Z', disk: 'disk.qcow2', exitCode: 0, summary: 'No errors were found on the image.\n89/131072 = 0.07% allocated\n' } });
    const lines = formatInfo(vm).split('\n');
    const i = lines.findIndex((l) => l.startsWith('last disk check:'));
    expect(lines[i]).toMatch(/^last disk check: +exit 0: No errors were found on the image\.$/);
    expect(lines[i + 1]).toBe(`${' '.repeat(lines[i]!.indexOf('exit'))}89/131072 = 0.07% allocated`);
  });
});

describe('flotilla info: disks, CD and shares', () => {
  const base = fakeVm('vm00000004', 'web');
  const caps = capsOf(['lifecycle', 'edit', 'disks', 'media', 'shares']);
  it('names the disks, what is in the CD drive and the shared folders, where the host has them', () => {
    const vm = { ...base, caps, spec: { ...base.spec, disks: ['disk.qcow2', 'extra-1.qcow2'], cdrom: '/isos/tools.iso', shares: [{ tag: 'src', hostPath: '/home/me/src', readOnly: true }] } };
    const out = formatInfo(vm);
    expect(out).toMatch(/^disks: +disk\.qcow2, extra-1\.qcow2$/m);
    expect(out).toMatch(/^cd: +\/isos\/tools\.iso$/m);
    expect(out).toMatch(/^shares: +src → \/home\/me\/src \(read-only\)$/m);
    expect(formatInfo({ ...vm, spec: { ...vm.spec, cdrom: null, shares: [] } })).toMatch(/^cd: +empty drive$/m);
  });
  it('leaves out what the VM has no drive for, or its host cannot do', () => {
    const out = formatInfo({ ...base, caps, spec: { ...base.spec, disks: ['disk.qcow2'] } });
    expect(out).not.toMatch(/^(cd|shares):/m);
    expect(formatInfo(base)).not.toMatch(/^disks:/m);
  });
});

describe('flotilla list with nothing to show', () => {
  it('gives the create line of the host it was asked for', () => {
    expect(formatList([])).toBe('no VMs yet: create one with `flotilla create NAME`\n');
    expect(formatList([], 'local')).toBe('no VMs yet: create one with `flotilla create NAME`\n');
    expect(formatList([], 'lab')).toBe('no VMs on host lab yet: create one with `flotilla create NAME --host lab`\n');
  });
});
