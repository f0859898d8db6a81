// The `flotilla` CLI as a user runs it, with no engine running: each command is a
// short-lived engine; VMs it starts keep running after it exits and the next command
// adopts them. Errors are one line on stderr with exit code 1.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { PortEntry, VmInfo } from '../../shared/contract';
import { bundle, CLI_ENTRY } from './fixtures/bundle';
import { cleanupHome, makeHome, processesUsing, run, runLeftovers } from './fixtures/engine-harness';

/**
 * Runs a command on a new pty of ROWS x COLS (python3 -c PTY_RUN ROWS COLS CMD...): stdin lines
 * go to the terminal, except "#resize R C", which resizes it; the terminal's output is stdout.
 */
const PTY_RUN = `
import fcntl, os, pty, select, struct, sys, termios
def size(fd, r, c): fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
pid, fd = pty.fork()
if pid == 0:
    size(0, int(sys.argv[1]), int(sys.argv[2]))
    os.execvp(sys.argv[3], sys.argv[3:])
buf = b''
while True:
    ready, _, _ = select.select([fd, 0], [], [])
    if fd in ready:
        try: out = os.read(fd, 65536)
        except OSError: out = b''
        if not out: break
        os.write(1, out)
    if 0 in ready:
        data = os.read(0, 65536)
        if not data: break
        buf += data
        while b'\\n' in buf:
            line, buf = buf.split(b'\\n', 1)
            if line.startswith(b'#resize '):
                r, c = line.split()[1:]
                size(fd, int(r), int(c))
            else:
                os.write(fd, line + b'\\r')
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`;

describe('flotilla CLI', () => {
  let home: string;
  let cli: string;
  const flotilla = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run(process.execPath, [cli, ...args], { env: { ...process.env, FLOTILLA_HOME: home, FLOTILLA_ACCEL: 'tcg' }, timeoutMs: 170_000 });

  beforeAll(async () => {
    [home, cli] = await Promise.all([makeHome(), bundle(CLI_ENTRY)]);
  });

  afterAll(async () => {
    await cleanupHome(home);
  });

  it('reports bad input as one line on stderr with exit code 1', async () => {
    for (const args of [
      ['create', 'x', '--from', 'iso:/nope/missing.iso'],
      ['create', 'Bad_Name'],
      ['start', 'ghost'],
      ['create', 'x', '--cpu', '2'],
      ['frobnicate'],
    ]) {
      const r = await flotilla(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/^flotilla: /);
    }
    expect((await flotilla('create', 'x', '--from', 'iso:/nope/missing.iso')).stderr).toBe('flotilla: ISO not found: /nope/missing.iso\n');
    expect((await flotilla('start', 'ghost')).stderr).toBe('flotilla: no VM named "ghost"\n');
  });

  it('create, start --wait-agent, adopt across invocations, exec with the guest exit code, stop', async () => {
    const created = await flotilla('create', 'web', '--memory', '192', '--forward', '8080', '--json');
    expect(created.code, created.stderr).toBe(0);
    const vm = JSON.parse(created.stdout) as VmInfo;
    expect(vm).toMatchObject({ name: 'web', state: 'stopped', spec: { memoryMiB: 192, forwards: [{ proto: 'tcp', guestPort: 8080 }] } });

    const started = await flotilla('start', 'web', '--wait-agent', '--json');
    expect(started.code, started.stderr).toBe(0);
    const up = JSON.parse(started.stdout) as VmInfo;
    expect(up).toMatchObject({ state: 'running', agent: 'ready' });

    // the CLI that started it has exited; QEMU lives on and the next CLI adopts it
    expect(await processesUsing(home)).toEqual([up.pid]);
    const listed = JSON.parse((await flotilla('list', '--json')).stdout) as VmInfo[];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ name: 'web', state: 'running', pid: up.pid, adopted: true });

    const ports = JSON.parse((await flotilla('ports', 'web', '--json')).stdout) as PortEntry[];
    expect(ports).toEqual(up.ports);

    const ex = await flotilla('exec', 'web', '--', '/bin/sh', '-c', 'echo out; echo err >&2; exit 3');
    expect(ex).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
    // --stdin: this process's input becomes the guest command's (piped, as `cmd | flotilla exec`),
    // text and bytes alike
    const piped = (input: Buffer, ...command: string[]): Promise<{ code: number | null; stdout: string }> =>
      new Promise((resolve) => {
        const p = spawn(process.execPath, [cli, 'exec', 'web', '--stdin', '--', ...command], { env: { ...process.env, FLOTILLA_HOME: home, FLOTILLA_ACCEL: 'tcg' } });
        let stdout = '';
        p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        p.on('close', (code) => resolve({ code, stdout }));
        p.stdin.end(input);
      });
    expect(await piped(Buffer.from('héllo\nworld\n'), '/bin/sh', '-c', 'read a; echo "got $a"; wc -l')).toEqual({ code: 0, stdout: 'got héllo\n1\n' });
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
    expect(await piped(bytes, 'sha256sum')).toEqual({ code: 0, stdout: `${createHash('sha256').update(bytes).digest('hex')}  -\n` });

    // cp: one file into the guest and back out, byte for byte (into a directory: the guest name)
    const blob = randomBytes(300 * 1024);
    const here = await mkdtemp(join(tmpdir(), 'flotilla-cp-'));
    try {
      await writeFile(join(here, 'blob.bin'), blob);
      const inCp = await flotilla('cp', join(here, 'blob.bin'), 'web:/root/blob.bin');
      expect(inCp).toMatchObject({ code: 0, stderr: `copied ${blob.length} bytes to web:/root/blob.bin\n` });
      expect((await flotilla('exec', 'web', '--', 'sha256sum', '/root/blob.bin')).stdout).toBe(`${createHash('sha256').update(blob).digest('hex')}  /root/blob.bin\n`);
      await mkdir(join(here, 'out'));
      expect((await flotilla('cp', 'web:/root/blob.bin', join(here, 'out'))).code).toBe(0);
      expect((await readFile(join(here, 'out', 'blob.bin'))).equals(blob)).toBe(true);
      expect(await readdir(join(here, 'out'))).toEqual(['blob.bin']);
      // beyond one agent write: 9 MiB goes in three chunks through web:/root/big.bin.flotilla-part,
      // renamed at the end, and no part file is left
      const big = randomBytes(9 * 1024 * 1024 + 123);
      await writeFile(join(here, 'big.bin'), big);
      expect(await flotilla('cp', join(here, 'big.bin'), 'web:/root/big.bin')).toMatchObject({ code: 0, stderr: `copied ${big.length} bytes to web:/root/big.bin\n` });
      expect((await flotilla('exec', 'web', '--', 'sha256sum', '/root/big.bin')).stdout).toBe(`${createHash('sha256').update(big).digest('hex')}  /root/big.bin\n`);
      expect((await flotilla('exec', 'web', '--', 'ls', '-a', '/root')).stdout).not.toContain('flotilla-part');
      // and out again in 4 MiB ranges (more than one vm.readFile answer can carry)
      expect(await flotilla('cp', 'web:/root/big.bin', join(here, 'out', 'big-back.bin'))).toMatchObject({ code: 0, stderr: `copied ${big.length} bytes to ${join(here, 'out', 'big-back.bin')}\n` });
      expect((await readFile(join(here, 'out', 'big-back.bin'))).equals(big)).toBe(true);
      await rm(join(here, 'out', 'big-back.bin'));
      // into a folder the VM does not have: the agent's refusal, and nothing left behind
      const noDir = await flotilla('cp', join(here, 'big.bin'), 'web:/no/such/dir/big.bin');
      expect(noDir.code).toBe(1);
      expect(noDir.stderr).toMatch(/^flotilla: .*\/no\/such\/dir\/big\.bin\.flotilla-part.*No such file or directory/);
      // bad input names what to fix, and nothing is written
      expect((await flotilla('cp', join(here, 'none'), 'web:/root/x')).stderr).toBe(`flotilla: no such file: ${join(here, 'none')}\n`);
      expect((await flotilla('cp', join(here, 'blob.bin'), join(here, 'copy'))).stderr).toMatch(/^flotilla: one side must be a VM's file and the other a file here/);
      const missing = await flotilla('cp', 'web:/root/not-there', join(here, 'out', 'x'));
      expect(missing.code).toBe(1);
      expect(await readdir(join(here, 'out'))).toEqual(['blob.bin']);
    } finally {
      await rm(here, { recursive: true, force: true });
    }

    const table = await flotilla('list');
    expect(table.stdout).toMatch(/^NAME\s+STATE\s+AGENT/);
    expect(table.stdout).toMatch(/web\s+running/);

    const info = await flotilla('info', 'web');
    expect(info.stdout).toMatch(/state:\s+running/);

    // the console's transcript: to a pipe, every byte, the shell's query of the cursor position
    // (ESC[6n, at its prompt) too; to a terminal, the text without it, which that terminal would
    // otherwise answer into the user's shell prompt
    const query = `${String.fromCharCode(27)}[6n`;
    let serial = await flotilla('logs', 'web', '--serial');
    for (let i = 0; i < 30 && !serial.stdout.includes(query); i++) serial = await flotilla('logs', 'web', '--serial');
    expect(serial.code).toBe(0);
    expect(serial.stdout).toContain(query);
    const onTerminal = await run('python3', ['-c', PTY_RUN, '40', '120', process.execPath, cli, 'logs', 'web', '--serial'], { env: { ...process.env, FLOTILLA_HOME: home } });
    expect(onTerminal.code).toBe(0);
    expect(onTerminal.stdout).toContain('web:~# ');
    expect(onTerminal.stdout).not.toContain(query);
    const logs = await flotilla('logs', 'web');
    expect(logs.stdout).toMatch(/\[lifecycle\] .*stopped → starting: start requested/);

    // the serial console: typed input reaches the guest shell, Ctrl-] leaves, the VM keeps running
    const con = spawn(process.execPath, [cli, 'console', 'web'], { env: { ...process.env, FLOTILLA_HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    con.stdout.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer on the console: ${screen.slice(-300)}`)), 60_000);
      con.stdout.on('data', (c: string) => {
        screen += c;
        if (screen.includes('cli-console-42')) {
          clearTimeout(t);
          resolve();
        }
      });
      con.stderr.once('data', () => con.stdin.write('\necho cli-console-$((6*7))\n'));
    });
    con.stdin.write('\x1d');
    const conCode = await new Promise<number | null>((r) => con.once('exit', r));
    expect(conCode).toBe(0);

    // in a terminal (a pty of 37 x 101), the guest's shell takes its size, and follows a resize
    // (SIGWINCH to the CLI, as a terminal window sends)
    const tty = spawn('python3', ['-c', PTY_RUN, '37', '101', process.execPath, cli, 'console', 'web'], { env: { ...process.env, FLOTILLA_HOME: home }, stdio: ['pipe', 'pipe', 'pipe'] });
    // a failed check below leaves neither the pty runner nor its CLI behind (closing its input ends both)
    onTestFinished(() => {
      tty.stdin.end();
      tty.kill();
    });
    let ttyScreen = '';
    tty.stdout.setEncoding('utf8');
    tty.stdout.on('data', (c: string) => (ttyScreen += c));
    // the guest's answer: "37 101", or "" while its pty has no size yet (stty prints an error);
    // lines end in \r\r\n here (the guest's CRLF, then this pty's ONLCR, which libuv's raw mode keeps)
    const sizeNow = async (tag: string): Promise<string> => {
      tty.stdin.write(`echo ${tag}=$(stty size)\n`);
      const answer = new RegExp(`${tag}=([0-9 ]*)\\r*\\n`);
      await expect.poll(() => answer.test(ttyScreen), { timeout: 20_000 }).toBe(true);
      return answer.exec(ttyScreen)![1]!;
    };
    await expect.poll(() => ttyScreen, { timeout: 60_000 }).toContain("serial console; Ctrl-] leaves");
    await expect.poll(() => sizeNow(`s${Date.now()}`), { timeout: 60_000, interval: 500 }).toBe('37 101');
    tty.stdin.write('#resize 40 120\n');
    await expect.poll(() => sizeNow(`r${Date.now()}`), { timeout: 60_000, interval: 500 }).toBe('40 120');
    tty.stdin.write('\x1d\n');
    expect(await new Promise<number | null>((r) => tty.once('exit', r))).toBe(0);
    expect(JSON.parse((await flotilla('info', 'web', '--json')).stdout)).toMatchObject({ state: 'running', pid: up.pid });

    const stopped = await flotilla('stop', 'web');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toMatch(/^web is stopped/);
    expect(await processesUsing(home)).toEqual([]);
    expect(await runLeftovers(home)).toEqual([]);

    expect((await flotilla('rm', 'web')).code).toBe(0);
    expect(JSON.parse((await flotilla('list', '--json')).stdout)).toEqual([]);
  });
});
