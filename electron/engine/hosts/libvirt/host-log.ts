// A libvirt host's lifecycle log: the connection's and its domains' state changes, in memory
// (the last 500 lines; the host keeps no QEMU log of remote VMs). A domain's `logs` are its lines
// and the connection's.
import { safeText } from './virsh-parse';

const MAX_LINES = 500;

export class HostLog {
  private readonly lines: string[] = [];

  note(line: string): void {
    this.lines.push(`${new Date().toISOString()} ${safeText(line, 500)}`);
    if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
  }

  /** Lines of one domain (`domain NAME:`) and of the connection, newest last. */
  of(name: string, tail: number): { t: string; source: 'lifecycle'; text: string }[] {
    return this.lines
      .filter((l) => l.includes(`domain ${name}:`) || l.includes(' connection '))
      .slice(-tail)
      .map((l) => ({ t: l.slice(0, 24), source: 'lifecycle' as const, text: l.slice(25) }));
  }
}
