// A libvirt host that cannot be used says why, in words that name the fix: a bad URI, an ssh
// host key that is not in known_hosts, a key file the host does not accept, a missing key file.
// Against the real loopback sshd of scripts/libvirt-test-setup.sh.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FlotillaError } from '../../shared/errors';
import { LibvirtConnection } from '../../electron/engine/hosts/libvirt/connection';
import { LibvirtHosts } from '../../electron/engine/hosts/libvirt/libvirt-hosts';
import { trustHostKey } from '../../electron/engine/hosts/libvirt/host-keys';
import { libvirtTestEnv } from './fixtures/libvirt-env';

const env = libvirtTestEnv();
const scratch = mkdtempSync(join(tmpdir(), 'lvt-err-'));
const conns: LibvirtConnection[] = [];

afterAll(async () => {
  for (const c of conns) await c.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function failure(uri: string, identity?: string): Promise<FlotillaError> {
  const c = new LibvirtConnection('t-err', uri, identity, { backoff: { baseMs: 60_000 } });
  conns.push(c);
  const err = await c.connect().then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FlotillaError);
  expect(c.state).toBe('failed');
  expect(c.reason).toBe((err as FlotillaError).message);
  return err as FlotillaError;
}

describe('connection errors', () => {
  it('a bad URI is refused before anything runs', () => {
    expect(() => new LibvirtConnection('x', 'qemu+ssh://root@127.0.0.1:2222/system?command=/bin/sh', undefined)).toThrow(/"command" is refused/);
    expect(() => new LibvirtConnection('x', 'qemu+tcp://host/system', undefined)).toThrow(/transport "qemu\+tcp" is not supported/);
  });

  it('an unknown host key is refused with the command that shows and trusts it', async () => {
    const emptyKnownHosts = join(scratch, 'known_hosts_empty');
    writeFileSync(emptyKnownHosts, '');
    const err = await failure(`${env.sshUri}?known_hosts=${emptyKnownHosts}`, env.key);
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.details).toMatchObject({ reason: 'host-key-unknown' });
    expect(err.message).toBe(`the ssh host key of [127.0.0.1]:2222 is not in ${emptyKnownHosts}: check the key it offers and trust it (Hosts, or \`flotilla host trust t-err\`)`);
  });

  it('a key the host does not accept is refused, naming --identity and never asking for a password', async () => {
    const stranger = join(scratch, 'stranger_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const err = await failure(`${env.sshUri}?known_hosts=${env.knownHosts}`, stranger);
    expect(err.code).toBe('UNAUTHORIZED');
    expect(err.details).toMatchObject({ reason: 'auth-failed' });
    expect(err.message).toMatch(/refused the key .*stranger_key.*--identity KEYFILE.*never uses passwords/s);
  });

  it('a missing key file is named', async () => {
    const err = await failure(`${env.sshUri}?known_hosts=${env.knownHosts}`, join(scratch, 'no-such-key'));
    expect(err.code).toBe('FILE_NOT_FOUND');
    expect(err.message).toContain('no-such-key');
  });

  it('a host where nothing listens is unreachable', async () => {
    const err = await failure(`qemu+ssh://root@127.0.0.1:1/system?known_hosts=${env.knownHosts}`, env.key);
    expect(err.code).toBe('DISCONNECTED');
    expect(err.message).toMatch(/cannot reach root@\[127\.0\.0\.1\]:1.*Connection refused/s);
  });
});

describe('closing', () => {
  /**
   * ssh masters to the test host that this process started and that still run (by their command
   * line and parent: test files run two at a time, and another file's masters are its own)
   */
  const masters = (): string[] =>
    execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([, ppid, ...args]) => Number(ppid) === process.pid && args.join(' ').includes('ssh -p 2222') && args.includes('ControlMaster=yes'))
      .map(([pid]) => pid!);

  it.each([0, 30, 150, 400])('a connection closed %i ms into connecting leaves no ssh behind', async (ms) => {
    const before = new Set(masters());
    const c = new LibvirtConnection('t-close', `${env.sshUri}?known_hosts=${env.knownHosts}`, env.key, { backoff: { baseMs: 60_000 } });
    const attempt = c.connect().catch(() => undefined);
    await new Promise((r) => setTimeout(r, ms));
    await c.close();
    // checked before the attempt settles: a CLI engine exits right after close() resolves
    await new Promise((r) => setTimeout(r, 100));
    expect(masters().filter((p) => !before.has(p))).toEqual([]);
    await attempt;
  });
});

describe('adding hosts', () => {
  it('stores a host only after its first connection worked; a refused one leaves hosts.json alone', async () => {
    const home = mkdtempSync(join(scratch, 'home-'));
    const hostsSet = new LibvirtHosts({ home, backoff: { baseMs: 60_000 } });
    try {
      const emptyKnownHosts = join(scratch, 'kh-add');
      writeFileSync(emptyKnownHosts, '');
      const err = await hostsSet.add('lab', `${env.sshUri}?known_hosts=${emptyKnownHosts}`, env.key).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UNAUTHORIZED', details: { reason: 'host-key-unknown' } });
      expect(existsSync(join(home, 'hosts.json'))).toBe(false);
      await expect(hostsSet.add('lab', 'qemu+ssh://root@h/system?no_verify=1')).rejects.toThrow(/"no_verify" is refused/);
      await expect(hostsSet.add('local', 'qemu:///system')).rejects.toThrow(/reserved/);

      const host = await hostsSet.add('lab', `${env.sshUri}?known_hosts=${env.knownHosts}`, env.key);
      expect(host.info()).toMatchObject({ id: 'lab', state: 'connected' });
      expect(await hostsSet.store.list()).toMatchObject([{ name: 'lab', uri: `${env.sshUri}?known_hosts=${env.knownHosts}`, identity: env.key }]);
      await expect(hostsSet.add('lab', 'qemu:///system')).rejects.toThrow(/exists already/);

      // a second engine on the same data directory loads and connects it
      const again = new LibvirtHosts({ home });
      expect(await again.load()).toEqual({ error: null });
      await until(() => again.get('lab')?.info().state === 'connected');
      await again.close();

      await hostsSet.remove('lab');
      expect(await hostsSet.store.list()).toEqual([]);
      expect(host.info().state).not.toBe('connected');
    } finally {
      await hostsSet.close();
    }
  });

  it('a stored host whose key is not known (any more) offers it, and connects once it is trusted', async () => {
    const home = mkdtempSync(join(scratch, 'home-'));
    const kh = join(scratch, 'kh-stored');
    writeFileSync(kh, '');
    const uri = `${env.sshUri}?known_hosts=${kh}`;
    // stored earlier, its key since removed (say, with ssh-keygen -R after the host was reinstalled)
    await new LibvirtHosts({ home }).store.add({ name: 'far', uri, identity: env.key });
    const hostsSet = new LibvirtHosts({ home, backoff: { baseMs: 60_000 } });
    const own = execFileSync('ssh-keygen', ['-lf', join(env.dir, 'host_key.pub')], { encoding: 'utf8' }).split(' ')[1]!;
    try {
      expect(await hostsSet.load()).toEqual({ error: null });
      await until(() => hostsSet.get('far')?.info().state === 'failed');
      expect(hostsSet.get('far')!.info()).toMatchObject({ failure: 'host-key-unknown', reason: expect.stringContaining('`flotilla host trust far`') });
      expect(await hostsSet.offeredKey('far')).toEqual({ type: 'ED25519', fingerprint: own });
      await expect(hostsSet.trustKey('far', `SHA256:${'B'.repeat(43)}`)).rejects.toMatchObject({ code: 'UNAUTHORIZED', details: { reason: 'host-key-not-offered' } });
      expect(readFileSync(kh, 'utf8')).toBe('');
      await expect(hostsSet.offeredKey('nowhere')).rejects.toMatchObject({ code: 'NOT_FOUND' });

      const host = await hostsSet.trustKey('far', own);
      expect(host.info()).toMatchObject({ id: 'far', state: 'connected', reason: null });
      expect(host.info().failure).toBeUndefined();
      expect(readFileSync(kh, 'utf8')).toMatch(/^\S+ ssh-ed25519 AAAA\S+\n$/);
      // connected: nothing to trust (a reconnect would only drop a working connection)
      await expect(hostsSet.trustKey('far', own)).rejects.toMatchObject({ code: 'INVALID_STATE' });
      // the same key trusted twice (a pasted command run again) is written once
      expect(await trustHostKey({ user: 'root', host: '127.0.0.1', port: 2222, knownHosts: kh }, own)).toBe(kh);
      expect(readFileSync(kh, 'utf8').trim().split('\n')).toHaveLength(1);
      expect(host.info().state).toBe('connected');
    } finally {
      await hostsSet.close();
    }
  });

  it('an unknown host key comes with the key the host offers; only that key, confirmed, is trusted', async () => {
    const home = mkdtempSync(join(scratch, 'home-'));
    const hostsSet = new LibvirtHosts({ home, backoff: { baseMs: 60_000 } });
    // the host's key as its own ssh-keygen prints it: what a user compares with
    const own = execFileSync('ssh-keygen', ['-lf', join(env.dir, 'host_key.pub')], { encoding: 'utf8' }).split(' ')[1]!;
    const kh = join(scratch, 'kh-trust');
    writeFileSync(kh, '# mine\nother.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGgXDSj71TbRkrCviDe3nptlGL4akpteTP68sd1VZFRm'); // no newline at its end
    const before = readFileSync(kh, 'utf8');
    const uri = `${env.sshUri}?known_hosts=${kh}`;
    try {
      const err = (await hostsSet.add('far', uri, env.key).catch((e: unknown) => e)) as FlotillaError;
      expect(err).toMatchObject({ code: 'UNAUTHORIZED', details: { reason: 'host-key-unknown', hostKey: { type: 'ED25519', fingerprint: own } } });
      expect(err.message).toContain(`It offers the ED25519 key ${own}`);
      // asking wrote nothing, stored nothing
      expect(readFileSync(kh, 'utf8')).toBe(before);
      expect(existsSync(join(home, 'hosts.json'))).toBe(false);

      // a fingerprint the host does not offer: refused, nothing written
      const wrong = `SHA256:${'A'.repeat(43)}`;
      await expect(hostsSet.add('far', uri, env.key, wrong)).rejects.toMatchObject({ code: 'UNAUTHORIZED', details: { reason: 'host-key-not-offered' } });
      expect(readFileSync(kh, 'utf8')).toBe(before);
      // a local URI has no ssh key to trust
      await expect(hostsSet.add('here', 'qemu:///session', undefined, own)).rejects.toMatchObject({ code: 'BAD_REQUEST', details: { field: 'trustHostKey' } });

      const host = await hostsSet.add('far', uri, env.key, own);
      expect(host.info()).toMatchObject({ id: 'far', state: 'connected' });
      expect(await hostsSet.store.list()).toMatchObject([{ name: 'far', uri }]);
      // one line appended after the user's own (which lacked its newline), and ssh itself
      // checks the host against the file: StrictHostKeyChecking=yes, a command run there
      const lines = readFileSync(kh, 'utf8').split('\n');
      expect(lines.slice(0, 2).join('\n')).toBe(before);
      expect(lines.slice(2)).toEqual([expect.stringMatching(/ ssh-ed25519 AAAA/), '']);
      const ssh = execFileSync('ssh', ['-p', '2222', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${kh}`, '-i', env.key, 'root@127.0.0.1', 'echo', 'checked'], { encoding: 'utf8' });
      expect(ssh.trim()).toBe('checked');
    } finally {
      await hostsSet.close();
    }
  });
});

async function until(pred: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
