// A libvirt host's domains as last read, by UUID, with a count of event-driven changes: a read
// begun before a domain's last change (removed, or its state or agent changed by an event) is
// stale, and the events' word stands (LibvirtHost.loadDomain). One small entry per domain ever
// seen.
import type { LibvirtDomain } from './domain-info';

export class DomainTable {
  private readonly byUuid = new Map<string, LibvirtDomain>();
  private changes = 0;
  private readonly changedAt = new Map<string, number>();
  /** when each domain was last stored (a full list read before then does not speak for it) */
  private readonly storedAt = new Map<string, number>();

  get size(): number {
    return this.byUuid.size;
  }
  get(uuid: string): LibvirtDomain | undefined {
    return this.byUuid.get(uuid);
  }
  has(uuid: string): boolean {
    return this.byUuid.has(uuid);
  }
  set(d: LibvirtDomain): void {
    this.byUuid.set(d.uuid, d);
    this.storedAt.set(d.uuid, this.changes++);
  }
  values(): IterableIterator<LibvirtDomain> {
    return this.byUuid.values();
  }
  uuids(): string[] {
    return [...this.byUuid.keys()];
  }
  byName(name: string): LibvirtDomain | undefined {
    for (const d of this.byUuid.values()) if (d.name === name) return d;
    return undefined;
  }

  /** Where the count stands: a read begun now is stale once `changedSince` says so. */
  mark(): number {
    return this.changes;
  }
  changedSince(uuid: string, mark: number): boolean {
    return (this.changedAt.get(uuid) ?? -1) >= mark;
  }
  /** Whether the domain was stored or changed since the mark: a list of libvirt's read before then cannot say it is gone. */
  newerThan(uuid: string, mark: number): boolean {
    return (this.storedAt.get(uuid) ?? -1) >= mark || this.changedSince(uuid, mark);
  }
  /** An event changed the domain. */
  touch(uuid: string): void {
    this.changedAt.set(uuid, this.changes++);
  }
  /** libvirt no longer has it. */
  forget(uuid: string): void {
    this.byUuid.delete(uuid);
    this.storedAt.delete(uuid);
    this.touch(uuid);
  }
}
