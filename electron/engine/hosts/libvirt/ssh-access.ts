// `flotilla ssh` into a built-in guest on a libvirt host: the guest is on a libvirt network (its
// DHCP address), which a host on this computer (qemu:///system or qemu:///session) reaches
// directly and a remote host's guests are reached through (ssh's ProxyCommand runs `ssh -W` on
// that host, with the host connection's user, key and known_hosts, over the engine's master while
// it is up: shared/ssh-command.ts). Its authorized keys are handed to it with libvirt's own `virsh set-user-sshkeys` (the
// guest agent writes them; a local VM gets them at boot through fw_cfg instead), and its host key
// is read through the agent into a known_hosts file of its own, as for a local VM.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SshInfo, SshJump, VmInfo } from '../../../../shared/contract';
import { FlotillaError } from '../../../../shared/errors';
import { reachableAddress, USER_NET_GUEST_ADDRESS } from '../../../../shared/ssh-command';
import { sshInfoAt, userPublicKeys } from '../../builtin-vm';
import { ensureOwnKey } from '../../own-ssh-key';
import { guestIps } from './domain-ops';
import { libvirtStateDir } from './state-dir';
import type { Virsh } from './virsh';


/** how long `flotilla ssh` waits for a guest that just started to get its DHCP address */
export const ADDRESS_WAIT_MS = 60_000;

export interface LibvirtSshTarget {
  virsh: Virsh;
  uuid: string;
  vm: VmInfo;
  jump: SshJump | null;
  hostId: string;
  home: string;
  readGuestFile: (path: string) => Promise<Buffer>;
  /** resolves once the guest's agent answers (agent-wait.ts), or fails saying why */
  agentUp: () => Promise<void>;
  /** the domain still runs */
  running: () => boolean;
  addressWaitMs?: number;
}

/**
 * An address of the guest that `reachableAddress` takes, from the agent: the one last seen, else
 * asked every second while the guest still asks DHCP (a guest just started has none for a few
 * seconds; `ssh` right after `start` failed saying so, where a local VM's waits). Stops at once for
 * QEMU's user networking (never reachable) and when the domain stops.
 */
async function guestAddress(o: LibvirtSshTarget): Promise<{ ip: string | null; ips: string[] }> {
  let ips = o.vm.ips;
  const seen = reachableAddress(ips);
  if (seen) return { ip: seen, ips };
  await o.agentUp();
  for (const deadline = Date.now() + (o.addressWaitMs ?? ADDRESS_WAIT_MS); ; await new Promise((r) => setTimeout(r, 1000))) {
    ips = await guestIps(o.virsh, o.uuid).catch(() => ips);
    const ip = reachableAddress(ips);
    if (ip || ips.includes(USER_NET_GUEST_ADDRESS) || !o.running() || Date.now() >= deadline) return { ip, ips };
  }
}

export async function libvirtSshInfo(o: LibvirtSshTarget): Promise<SshInfo> {
  const { vm } = o;
  if (vm.spec.source.kind !== 'default') {
    throw new FlotillaError('INVALID_STATE', `only the built-in Linux runs Flotilla's SSH server; reach ${vm.name} with ssh USER@ADDRESS from host ${o.hostId}`);
  }
  if (vm.state !== 'running') throw new FlotillaError('INVALID_STATE', `${vm.name} is ${vm.state}; start it first`);
  // the addresses last seen, else the agent's answer (an engine that just connected, as a
  // one-shot CLI's does, has not asked yet), waited for while the guest asks DHCP
  const { ip, ips } = await guestAddress(o);
  if (!ip) {
    const why = ips.includes(USER_NET_GUEST_ADDRESS)
      ? `it is on QEMU's user networking, which ${o.jump ? 'its host' : 'this computer'} cannot reach (a VM created while the host's "default" network runs joins that network)`
      : o.running()
        ? `its agent reported none within ${Math.round((o.addressWaitMs ?? ADDRESS_WAIT_MS) / 1000)} s (is the guest's network up? \`flotilla exec ${vm.name} --host ${o.hostId} -- ip addr\` shows it)`
        : 'it stopped';
    throw new FlotillaError('INVALID_STATE', `${vm.name} has no address ${o.jump ? `its host ${o.hostId}` : 'this computer'} reaches: ${why}`);
  }
  const own = await ensureOwnKey(o.home);
  const keys = [...new Set([...vm.spec.sshKeys, ...(await userPublicKeys()), ...(own ? [own.publicKey] : [])])];
  if (keys.length) {
    const dir = await mkdtemp(join(tmpdir(), 'flt-keys-'));
    try {
      const file = join(dir, 'keys');
      await writeFile(file, `${keys.join('\n')}\n`, { mode: 0o600 });
      // appended to root's authorized_keys by the guest agent; a key already there is not repeated
      await o.virsh.run(['set-user-sshkeys', '--domain', o.uuid, '--user', 'root', '--file', file]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const dir = libvirtStateDir(o.home, o.hostId, vm.id);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await sshInfoAt({ id: vm.id, name: vm.name, dir, host: ip, port: 22, readGuestFile: o.readGuestFile, identityFile: own?.file ?? null });
  return o.jump ? { ...info, jump: o.jump } : info;
}
