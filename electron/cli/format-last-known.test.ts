import { describe, expect, it } from 'vitest';
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
