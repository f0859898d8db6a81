// Where this computer keeps what it knows of a libvirt host and of each of its VMs (a guest's
// ssh known_hosts, its console's scrollback, the host's volume journal), and its removal.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What this computer keeps of a libvirt host (its volume journal) or of one of its VMs (the guest's
 * known_hosts, its console's scrollback): removed with the VM, or without id with the host.
 */
export function libvirtStateDir(home: string, hostId: string, id?: string): string {
  return id ? join(home, 'libvirt', hostId, id) : join(home, 'libvirt', hostId);
}

export function forgetLibvirtState(home: string, hostId: string, id?: string): Promise<void> {
  return rm(libvirtStateDir(home, hostId, id), { recursive: true, force: true });
}
