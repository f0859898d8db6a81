// The name a snapshot gets when none is given: the time it was asked for, to the second, in UTC
// ("snap-20261206-040113"). The engine names an unnamed snapshot this way, and a client that must
// know its snapshot's name across a lost engine (outlast-engine.ts) picks it the same way first.
export function defaultSnapshotName(now: Date): string {
  return `snap-${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
}
