// The built-in VM's disk, keys and known_hosts, with the real qemu-img and files in a temp dir.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PortEntry } from '../../shared/contract';
import { vmSpecSchema } from '../../shared/spec';
import { ensureRootDisk, knownHostsLine, sshArgs, sshInfoFor, userPublicKeys, writeAuthorizedKeys } from './builtin-vm';
import { qemuImgInfo } from './images';

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFb3Qm3n0pVbqCw0m0Gk2Xy7w1k8Qd6y3VvE8h3d1k2Z';
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 me@laptop';
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flo-builtin-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});
const spec = (over: Record<string, unknown> = {}) => vmSpecSchema.parse({ id: 'abcdef123456', name: 'b', createdAt: 'x', source: { kind: 'default', diskSizeGiB: 2 }, ...over });

describe('built-in VM files', () => {
  it('makes the disk once, sparse, at the spec size, with no temp file left', async () => {
    expect(await ensureRootDisk(dir, spec())).toBe(true);
    expect(await ensureRootDisk(dir, spec({ disks: ['disk.qcow2'] }))).toBe(false);
    expect(await qemuImgInfo(join(dir, 'disk.qcow2'))).toMatchObject({ format: 'qcow2', virtualSize: 2 * 2 ** 30 });
    expect(await readdir(dir)).toEqual(['disk.qcow2']);
  });

  it('takes ~/.ssh/*.pub key lines, skipping other files and lines', async () => {
    await mkdir(join(dir, '.ssh'));
    await writeFile(join(dir, '.ssh', 'id_ed25519.pub'), `${ED} me@host\n`);
    await writeFile(join(dir, '.ssh', 'id_rsa.pub'), `${RSA}\n`);
    await writeFile(join(dir, '.ssh', 'id_ed25519'), '-----BEGIN OPENSSH PRIVATE KEY-----\n');
    await writeFile(join(dir, '.ssh', 'junk.pub'), 'command="rm -rf /" ssh-ed25519 AAAA\n');
    expect(await userPublicKeys(dir)).toEqual([`${ED} me@host`, RSA]);
    expect(await userPublicKeys(join(dir, 'nobody'))).toEqual([]);
  });

  it('writes the spec keys and the user keys once each, 0600; nothing when there is no key', async () => {
    const file = await writeAuthorizedKeys(dir, spec({ sshKeys: [RSA] }), [RSA, ED]);
    expect(await readFile(file!, 'utf8')).toBe(`${RSA}\n${ED}\n`);
    expect((await stat(file!)).mode & 0o777).toBe(0o600);
    expect(await writeAuthorizedKeys(join(dir, 'x'), spec(), [])).toBeNull();
  });

  it('accepts only an ed25519 key line from the guest for known_hosts', () => {
    expect(knownHostsLine('flotilla-abc', `${ED} root@guest\n`)).toBe(`flotilla-abc ${ED}\n`);
    for (const hostile of ['', 'ssh-rsa AAAA', `${ED}\nevil ssh-ed25519 AAAA`, `@cert-authority * ${ED}`, '../../etc/passwd']) {
      expect(() => knownHostsLine('flotilla-abc', hostile)).toThrow(/not an ed25519 public key/);
    }
  });

  it('sshInfoFor waits for the guest to write its key, and needs a port-22 forward', async () => {
    const fwd: PortEntry = { vmId: 'abcdef123456', purpose: 'forward', proto: 'tcp', hostPort: 40022, guestPort: 22, host: '127.0.0.1' };
    let reads = 0;
    const readGuestFile = async (): Promise<Buffer> => {
      if (++reads < 3) throw new Error("guest-file-open failed: No such file or directory");
      return Buffer.from(`${ED} root@b\n`);
    };
    const info = await sshInfoFor({ id: 'abcdef123456', name: 'b', vmDir: dir, ports: [fwd], readGuestFile, identityFile: '/d/ssh/id_ed25519' });
    expect(info).toEqual({ host: '127.0.0.1', port: 40022, user: 'root', hostKeyAlias: 'flotilla-abcdef123456', knownHostsFile: join(dir, 'known_hosts'), hostKey: ED, identityFile: '/d/ssh/id_ed25519' });
    expect(await readFile(info.knownHostsFile, 'utf8')).toBe(`flotilla-abcdef123456 ${ED}\n`);
    await expect(sshInfoFor({ id: 'abcdef123456', name: 'b', vmDir: dir, ports: [{ ...fwd, guestPort: 80 }], readGuestFile, identityFile: null })).rejects.toMatchObject({ code: 'INVALID_STATE', message: /no forward of guest port 22/ });
    const never = async (): Promise<Buffer> => {
      throw new Error('No such file or directory');
    };
    await expect(sshInfoFor({ id: 'abcdef123456', name: 'b', vmDir: dir, ports: [fwd], readGuestFile: never, identityFile: null, waitMs: 300 })).rejects.toMatchObject({ code: 'AGENT_ERROR', message: /ssh -p 40022/ });
    expect(sshArgs(info, { identity: '/k/id', command: ['echo', 'hi'] })).toEqual([
      '-p', '40022',
      '-o', 'HostKeyAlias=flotilla-abcdef123456',
      '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'StrictHostKeyChecking=yes',
      '-i', '/k/id', '-o', 'IdentitiesOnly=yes',
      'root@127.0.0.1', '--', 'echo', 'hi',
    ]);
  });
});
