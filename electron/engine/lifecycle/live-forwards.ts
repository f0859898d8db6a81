// Port forwards changed on a running VM. QEMU's user network takes a forward while it runs
// (`hostfwd_add` / `hostfwd_remove`: monitor commands with no QMP twin, sent through QMP's
// human-monitor-command), so a new forward works at once and a removed one stops, with no restart.
// The port table is changed first (all or nothing, so a taken port refuses the change before QEMU
// is touched), QEMU second, and a failure in QEMU undoes both: the table, QEMU and the spec the
// caller writes afterwards agree, or nothing changed.
import type { PortEntry } from '../../../shared/contract';
import { FlotillaError } from '../../../shared/errors';
import type { Forward } from '../../../shared/spec';
import type { PortRequest } from '../port-allocator';
import { NETDEV_ID } from '../qemu-args';

export interface LiveForwardDeps {
  vmId: string;
  ports: {
    entries(vmId: string): PortEntry[];
    allocateMany(vmId: string, reqs: PortRequest[]): Promise<PortEntry[]>;
    /** the VM's rows become exactly these */
    mark(vmId: string, entries: PortEntry[]): Promise<void>;
  };
  /** one monitor command line; resolves to its output */
  hmp(commandLine: string): Promise<string>;
  log(text: string): void;
}

export interface ForwardPlan {
  /** live forwards that go */
  remove: PortEntry[];
  /** wanted forwards not live yet */
  add: Forward[];
}

/**
 * What changes between the forwards a VM's QEMU holds and the wanted list: a live forward stays
 * when a wanted one has its protocol and guest port and either no host port (automatic: it keeps
 * the one it has) or the same one. Everything else is removed and added.
 */
export function planForwards(live: readonly PortEntry[], wanted: readonly Forward[]): ForwardPlan {
  const kept = new Set<PortEntry>();
  const add: Forward[] = [];
  for (const w of wanted) {
    const same = live.find((e) => !kept.has(e) && e.proto === w.proto && e.guestPort === w.guestPort && (w.hostPort === undefined || w.hostPort === e.hostPort));
    if (same) kept.add(same);
    else add.push(w);
  }
  return { remove: live.filter((e) => !kept.has(e)), add };
}

const rule = (e: PortEntry): string => `${e.proto}:127.0.0.1:${e.hostPort}-:${e.guestPort}`;
const key = (e: PortEntry): string => `${e.proto}:127.0.0.1:${e.hostPort}`;

/** Brings a running VM's forwards to `wanted`; nothing is changed when it throws. */
export async function applyLiveForwards(d: LiveForwardDeps, wanted: readonly Forward[]): Promise<void> {
  const before = d.ports.entries(d.vmId);
  const live = before.filter((e) => e.purpose === 'forward');
  const plan = planForwards(live, wanted);
  if (plan.remove.length === 0 && plan.add.length === 0) return;
  // a port taken by another VM or program refuses the whole change here, before QEMU is touched
  const added = await d.ports.allocateMany(
    d.vmId,
    plan.add.map((f) => ({ purpose: 'forward' as const, proto: f.proto, guestPort: f.guestPort, hostPort: f.hostPort })),
  );
  const removedInQemu: PortEntry[] = [];
  const addedInQemu: PortEntry[] = [];
  try {
    for (const e of plan.remove) {
      const out = (await d.hmp(`hostfwd_remove ${NETDEV_ID} ${key(e)}`)).trim();
      // "… not found": QEMU does not hold it (the goal all the same)
      if (out && !/ removed$| not found$/.test(out)) throw new FlotillaError('QMP_ERROR', `QEMU did not remove the forward of host port ${e.hostPort}/${e.proto}: ${out.slice(0, 200)}`);
      removedInQemu.push(e);
    }
    for (const e of added) {
      const out = (await d.hmp(`hostfwd_add ${NETDEV_ID} ${rule(e)}`)).trim();
      if (out) {
        throw /Could not set up host forwarding rule/.test(out)
          ? new FlotillaError('PORT_TAKEN', `host port ${e.hostPort}/${e.proto} on 127.0.0.1 is already in use; choose another port or leave it empty`, { hostPort: e.hostPort, proto: e.proto })
          : new FlotillaError('QMP_ERROR', `QEMU did not add the forward of host port ${e.hostPort}/${e.proto}: ${out.slice(0, 200)}`);
      }
      addedInQemu.push(e);
    }
  } catch (err) {
    // undo in QEMU what was done (the removed ports are still this VM's in the table until the
    // mark below, so no one else was handed them meanwhile), then put the table back
    for (const e of addedInQemu) await d.hmp(`hostfwd_remove ${NETDEV_ID} ${key(e)}`).catch(() => '');
    for (const e of removedInQemu) {
      const out = await d.hmp(`hostfwd_add ${NETDEV_ID} ${rule(e)}`).catch((x: unknown) => String(x));
      if (out.trim()) d.log(`could not put back the forward 127.0.0.1:${e.hostPort} → ${e.guestPort}/${e.proto}: ${out.trim().slice(0, 200)}`);
    }
    await d.ports.mark(d.vmId, before);
    throw err;
  }
  // a removed forward whose host port an added one took over (same port, another guest port) keeps its row
  const addedKeys = new Set(added.map(key));
  const gone = new Set(plan.remove.map(key).filter((k) => !addedKeys.has(k)));
  await d.ports.mark(
    d.vmId,
    d.ports.entries(d.vmId).filter((e) => e.purpose !== 'forward' || !gone.has(key(e))),
  );
  const words = [...plan.remove.map((e) => `removed 127.0.0.1:${e.hostPort} → ${e.guestPort}/${e.proto}`), ...added.map((e) => `added 127.0.0.1:${e.hostPort} → ${e.guestPort}/${e.proto}`)];
  d.log(`port forwards changed while running: ${words.join(', ')}`);
}

/**
 * The host forwards QEMU's user network holds, from `info usernet` (one line per socket; a host
 * forward's reads `TCP[HOST_FORWARD]  FD  127.0.0.1 HOSTPORT  10.0.2.15 GUESTPORT  …`).
 */
export function parseUsernetForwards(text: string): { proto: 'tcp' | 'udp'; hostPort: number; guestPort: number }[] | null {
  // not the table this reads (another QEMU's wording): nothing is known, rather than "none"
  if (!/^\s*Protocol\[State\]\s+FD\s+Source Address\s+Port\s+Dest\. Address\s+Port\b/m.test(text)) return null;
  const out: { proto: 'tcp' | 'udp'; hostPort: number; guestPort: number }[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(TCP|UDP)\[HOST_FORWARD\]\s+-?\d+\s+127\.0\.0\.1\s+(\d{1,5})\s+\S+\s+(\d{1,5})\s/.exec(line);
    if (m) out.push({ proto: m[1]!.toLowerCase() as 'tcp' | 'udp', hostPort: Number(m[2]), guestPort: Number(m[3]) });
  }
  return out;
}

/**
 * After adoption: QEMU is the truth. The spec is written before QEMU is told
 * (local-vm-handle.ts), so an engine killed between the two leaves a running VM whose vm.json
 * holds forwards its QEMU lacks; and a table rebuilt from QEMU's command line (ports.json lost,
 * rebuild-forwards.ts) lacks forwards added live. So the table first takes what QEMU holds (`info
 * usernet`), then the change is finished. When it cannot be (a port taken meanwhile) it says so,
 * and vm.json's forwards come with the next start.
 */
export async function finishLiveForwards(d: LiveForwardDeps, wanted: readonly Forward[]): Promise<void> {
  const rows = d.ports.entries(d.vmId);
  const inTable = rows.filter((e) => e.purpose === 'forward');
  const told = parseUsernetForwards(await d.hmp('info usernet'));
  const inQemu = told?.map((f): PortEntry => ({ vmId: d.vmId, purpose: 'forward', ...f, host: '127.0.0.1' })) ?? inTable;
  const keyed = (l: PortEntry[]) => l.map(rule).sort().join(' ');
  if (told === null) d.log("QEMU's `info usernet` did not read as expected: the port table's forwards are taken as its own");
  else if (keyed(inTable) !== keyed(inQemu)) {
    await d.ports.mark(d.vmId, [...rows.filter((e) => e.purpose !== 'forward'), ...inQemu]);
    d.log(`the port table now holds the forwards of the running QEMU: ${inQemu.map((e) => `127.0.0.1:${e.hostPort} → ${e.guestPort}/${e.proto}`).join(', ') || 'none'}`);
  }
  const plan = planForwards(inQemu, wanted);
  if (plan.remove.length === 0 && plan.add.length === 0) return;
  d.log('vm.json holds other port forwards than the running QEMU (an engine stopped in the middle of changing them): finishing the change');
  try {
    await applyLiveForwards(d, wanted);
  } catch (err) {
    d.log(`could not finish the port forward change (${err instanceof Error ? err.message : String(err)}); vm.json's forwards apply at the next start`);
  }
}
