// The figures that need the real engine and real QEMU: start overhead and the 8-VM storm
// (each against raw QEMU with the engine's own arguments), engine and QEMU memory, serial
// console throughput and keystroke echo latency through headless mode.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import type { VmInfo } from '../../shared/contract';
import type { ChannelClient } from '../../shared/rpc';
import type { EngineProcess } from './engine-process';
import { guestRamResidentKiB, rssKiB, settledRssKiB } from './proc-mem';
import { installPtyAlone, ptyAloneRun, type PtyMode } from './pty-alone';
import { cmdlineOf, spawnRaw, waitAgentReady, type RawQemu } from './raw-qemu';

const nap = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const MEMORY_MIB = 256;
/** where the guest keeps the bytes it writes to its console (its root is RAM-backed) */
const BENCH_FILE = '/tmp/bench-console';

export interface BenchVm {
  id: string;
  name: string;
}

export async function ensureVms(api: ChannelClient, n: number): Promise<BenchVm[]> {
  const have = await api.invoke('vm.list', {});
  const out: BenchVm[] = [];
  for (let i = 0; i < n; i++) {
    const name = `bench-${i}`;
    const vm = have.find((v) => v.name === name) ?? (await api.invoke('vm.create', { config: { name, source: { kind: 'default' }, cpus: 1, memoryMiB: MEMORY_MIB } }));
    out.push({ id: vm.id, name });
  }
  return out;
}

export async function stopAndWait(api: ChannelClient, id: string): Promise<void> {
  const vm = await api.invoke('vm.get', { id });
  if (vm.state !== 'stopped' && vm.state !== 'crashed') await api.invoke('vm.stop', { id, force: true }).catch(() => undefined);
  const end = Date.now() + 30_000;
  while (Date.now() < end) {
    const v = await api.invoke('vm.get', { id });
    if (v.state === 'stopped' || v.state === 'crashed') return;
    await nap(100);
  }
  throw new Error(`VM ${id} did not stop within 30 s`);
}

/** QEMU's argv as the engine spawned it, and the run dir its socket paths live in. */
export interface EngineArgs {
  argv: string[];
  runDir: string;
}

export function engineArgsOf(home: string, vm: VmInfo): EngineArgs {
  if (!vm.pid) throw new Error(`${vm.name} has no QEMU pid`);
  return { argv: cmdlineOf(vm.pid), runDir: join(home, 'run', vm.id) };
}

/** Engine start → agent ready: vm.start with waitAgent, as `flotilla start --wait` asks it. */
export async function engineStartMs(api: ChannelClient, id: string): Promise<{ ms: number; vm: VmInfo; sinceEpochMs: number; repliedEpochMs: number }> {
  const sinceEpochMs = Date.now();
  const t0 = performance.now();
  const vm = await api.invoke('vm.start', { id, waitAgent: true });
  return { ms: performance.now() - t0, vm, sinceEpochMs, repliedEpochMs: Date.now() };
}

export async function rawStartMs(args: EngineArgs): Promise<{ ms: number; raw: RawQemu }> {
  const t0 = performance.now();
  const raw = await spawnRaw(args.argv, args.runDir);
  try {
    (await waitAgentReady(raw)).close();
  } catch (e) {
    await raw.dispose();
    throw e;
  }
  return { ms: performance.now() - t0, raw };
}

// ---------------------------------------------------------------------------- storm + memory

export interface QemuMem {
  rssMiB: number;
  guestResidentMiB: number;
  /** RSS minus the resident part of guest RAM: everything QEMU holds besides the guest's pages */
  overRssMiB: number;
  /** PSS minus resident guest RAM: shared file pages (kernel image, binary, libs) split among the VMs */
  overPssMiB: number;
  /** the literal definition: RSS minus the configured guest RAM (negative while the guest has not touched all of it) */
  rssMinusConfiguredMiB: number;
  /** anonymous RSS of TCG's translation buffer (the 1 GiB anonymous mapping) */
  tcgBufferMiB: number | null;
  /** anonymous (private) RSS minus resident guest RAM: what another VM costs on top of shared pages */
  privateMiB: number;
}

function rollup(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(l);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

function tcgBufferKiB(pid: number): number | null {
  let size = -1;
  let anon = false;
  for (const l of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const h = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(l);
    if (h) {
      size = (parseInt(h[2]!, 16) - parseInt(h[1]!, 16)) / 1024;
      anon = h[3] === '';
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(l);
    // QEMU 7.2 sizes the code buffer at 1 GiB under TCG (minus a guard page)
    if (r && anon && size >= 1024 * 1024 - 64 && size <= 1024 * 1024) return Number(r[1]);
  }
  return null;
}

export function qemuMem(pid: number, memoryMiB: number): QemuMem {
  const r = rollup(pid);
  const guest = guestRamResidentKiB(pid, memoryMiB) ?? 0;
  const tcg = tcgBufferKiB(pid);
  const mib = (k: number) => Math.round((k / 1024) * 10) / 10;
  return {
    rssMiB: mib(r.Rss ?? rssKiB(pid)),
    guestResidentMiB: mib(guest),
    overRssMiB: mib((r.Rss ?? 0) - guest),
    overPssMiB: mib((r.Pss ?? 0) - guest),
    rssMinusConfiguredMiB: mib((r.Rss ?? 0) - memoryMiB * 1024),
    tcgBufferMiB: tcg === null ? null : mib(tcg),
    privateMiB: mib((r.Anonymous ?? 0) - guest),
  };
}

export interface StormResult {
  ms: number;
  failures: string[];
}

export async function engineStorm(api: ChannelClient, vms: BenchVm[]): Promise<StormResult & { infos: VmInfo[]; phases: StartPhases[] }> {
  const since = Date.now();
  const t0 = performance.now();
  const replied: number[] = [];
  const results = await Promise.allSettled(vms.map((v, i) => api.invoke('vm.start', { id: v.id, waitAgent: true }).finally(() => (replied[i] = Date.now()))));
  const ms = performance.now() - t0;
  const phases: StartPhases[] = [];
  for (const [i, v] of vms.entries()) {
    const p = await startPhases(api, v.id, since, replied[i] ?? Date.now()).catch(() => null);
    if (p) phases.push(p);
  }
  const failures: string[] = [];
  const infos: VmInfo[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') infos.push(r.value);
    else failures.push(`${vms[i]!.name}: ${(r.reason as Error).message}`);
  });
  return { ms, failures, infos, phases };
}

export async function rawStorm(args: EngineArgs, n: number, poll?: { attemptMs: number; napMs: number }): Promise<StormResult & { raws: RawQemu[]; perVmMs: number[] }> {
  const t0 = performance.now();
  const raws = await Promise.all(Array.from({ length: n }, () => spawnRaw(args.argv, args.runDir)));
  const perVmMs: number[] = [];
  const results = await Promise.allSettled(
    raws.map((r) =>
      waitAgentReady(r, 180_000, poll).then((a) => {
        perVmMs.push(performance.now() - t0);
        a.close();
      }),
    ),
  );
  const ms = performance.now() - t0;
  const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`raw ${i}: ${(r.reason as Error).message}`] : []));
  return { ms, failures, raws, perVmMs };
}

export { settledRssKiB };

// ---------------------------------------------------------------------------- console

/** Bytes/s the guest's serial output reaches a headless WebSocket subscriber. */
/** how many 'x' a chunk holds, without building an array per character as split() would */
function countX(s: string | Buffer): number {
  let n = 0;
  for (let i = s.indexOf('x'); i !== -1; i = s.indexOf('x', i + 1)) n++;
  return n;
}

/** `bytes` of 'x' in the guest's RAM root, for the console benches to cat. */
/**
 * The console's terminal in the default guest is the relayed pty that its console shell names
 * /dev/flotilla-console (the kernel's /dev/console is the UART); it appears once that shell runs,
 * shortly after the agent is ready.
 */
export const AWAIT_CONSOLE_TTY = 'until [ -L /dev/flotilla-console ]; do usleep 50000; done; ';

export async function makeBenchFile(api: ChannelClient, id: string, bytes: number): Promise<void> {
  await api.invoke('vm.exec', { id, command: ['/bin/sh', '-c', `head -c ${bytes} /dev/zero | tr '\\000' x > ${BENCH_FILE}`], timeoutMs: 300_000 });
}

/** The line-heavy twin of the bench file: `bytes` in lines of 63 'x' and a newline (what `cat` of a log is like). */
const LINES_FILE = '/tmp/bench-console-lines';
export async function makeBenchLinesFile(api: ChannelClient, id: string, bytes: number): Promise<void> {
  const lines = Math.floor(bytes / 64);
  await api.invoke('vm.exec', { id, command: ['/bin/sh', '-c', `awk 'BEGIN { s = sprintf("%63s", ""); gsub(/ /, "x", s); for (i = 0; i < ${lines}; i++) print s }' > ${LINES_FILE}`], timeoutMs: 300_000 });
}

/**
 * One console run: the guest writes `bytes` to its console, a headless client counts them.
 * `lost`: what had not arrived 5 s after the write ended (the run's throughput is then NaN).
 */
export async function consoleThroughput(engine: EngineProcess, id: string, bytes: number, opts: { fileReady?: boolean; lines?: boolean } = {}): Promise<{ mbps: number; bytes: number; ms: number; events: number; lost: number }> {
  // lines: the file of makeBenchLinesFile, whose bytes are 63 of 64 'x' (the CRs and newlines are not counted)
  const xs = opts.lines ? Math.floor(bytes / 64) * 63 : bytes;
  const { api, ws } = await engine.connect();
  try {
    let events = 0;
    let got = 0;
    let first = 0;
    let last = 0;
    let done: () => void = () => {};
    const finished = new Promise<void>((r) => (done = r));
    api.on('console.data', (p) => {
      if (p.id !== id) return;
      const n = countX(p.data);
      if (!n) return;
      events++;
      const now = performance.now();
      if (!got) first = now;
      got += n;
      last = now;
      if (got >= xs) done();
    });
    await api.invoke('console.subscribe', { id });
    // the bytes are made first (in the guest's RAM-backed root), so only the console is timed
    if (!opts.fileReady) await makeBenchFile(api, id, bytes);
    const run = api.invoke('vm.exec', { id, command: ['/bin/sh', '-c', `${AWAIT_CONSOLE_TTY}cat ${opts.lines ? LINES_FILE : BENCH_FILE} > /dev/flotilla-console`], timeoutMs: 300_000 });
    await Promise.race([finished, run.then(() => nap(5000))]);
    await run;
    const ms = last - first;
    if (got < xs) return { mbps: Number.NaN, bytes, ms, events, lost: Math.round(((xs - got) * bytes) / xs) };
    // the clock starts at the first byte, so that byte's chunk is not part of the timed span
    return { mbps: bytes / 1e6 / (ms / 1000), bytes, ms, events, lost: 0 };
  } finally {
    ws.close();
  }
}

/** A raw client of a serial chardev socket that measures keystroke → echo. */
class RawSerial {
  private buf = '';
  private waiter: (() => void) | null = null;
  constructor(private readonly sock: Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      this.waiter?.();
    });
  }
  static open(path: string): Promise<RawSerial> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new RawSerial(s)));
      s.once('error', reject);
    });
  }
  write(s: string): void {
    this.sock.write(s);
  }
  drain(): string {
    const b = this.buf;
    this.buf = '';
    return b;
  }
  waitFor(ch: string, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`raw serial: no echo of ${JSON.stringify(ch)}`)), timeoutMs);
      const check = (): void => {
        if (this.buf.includes(ch)) {
          clearTimeout(t);
          this.waiter = null;
          this.buf = '';
          resolve();
        }
      };
      this.waiter = check;
      check();
    });
  }
  close(): void {
    this.sock.destroy();
  }
}

/**
 * The echo floor's client: keystrokes through bench/echo-relay.ts (a separate process with a
 * `ws` server and nothing else) to `serialSock`, a second raw QEMU's console.
 */
async function openFloorRelay(serialSock: string): Promise<{ echo: (ch: string) => Promise<number>; send: (data: string) => void; drain: () => void; close: () => void }> {
  const relay: ChildProcess = spawn(process.execPath, [join(__dirname, 'echo-relay.js'), serialSock], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(createInterface({ input: relay.stdout! }), 'line')) as [string];
    const { port } = JSON.parse(line) as { port: number };
    const ws = new WebSocket(`ws://127.0.0.1:${port}`);
    await once(ws, 'open');
    let buf = '';
    let wait: (() => void) | null = null;
    ws.on('message', (m) => {
      buf += (JSON.parse(String(m)) as { data: string }).data;
      wait?.();
    });
    const send = (data: string): void => ws.send(JSON.stringify({ method: 'console.input', data }));
    const echo = (ch: string): Promise<number> =>
      new Promise((resolve, reject) => {
        buf = '';
        const t0 = performance.now();
        const t = setTimeout(() => reject(new Error(`floor relay: no echo of ${JSON.stringify(ch)}`)), 10_000);
        wait = () => {
          if (!buf.includes(ch)) return;
          clearTimeout(t);
          wait = null;
          resolve(performance.now() - t0);
        };
        send(ch);
      });
    return {
      echo,
      send,
      drain: () => (buf = ''),
      close: () => {
        ws.close();
        relay.kill();
      },
    };
  } catch (err) {
    relay.kill();
    throw err;
  }
}

/**
 * Keystroke → echo through headless mode, interleaved with a raw socket to a twin QEMU and with
 * the floor: a minimal relay process (bench/echo-relay.ts) to a second twin.
 */
export async function echoLatency(engine: EngineProcess, id: string, args: EngineArgs, samples: number, log: (l: string) => void): Promise<{ engineMs: number[]; rawMs: number[]; floorMs: number[] }> {
  const { api, ws } = await engine.connect();
  const { raw } = await rawStartMs(args);
  let floorRaw: RawQemu | null = null;
  let serial: RawSerial | null = null;
  let floor: Awaited<ReturnType<typeof openFloorRelay>> | null = null;
  try {
    floorRaw = (await rawStartMs(args)).raw;
    let ebuf = '';
    let ewait: (() => void) | null = null;
    api.on('console.data', (p) => {
      if (p.id !== id) return;
      ebuf += p.data;
      ewait?.();
    });
    await api.invoke('console.subscribe', { id });
    serial = await RawSerial.open(raw.serialSock);
    floor = await openFloorRelay(floorRaw.serialSock);
    const rs = serial;
    const fl = floor;
    const engineEcho = (ch: string): Promise<number> =>
      new Promise((resolve, reject) => {
        ebuf = '';
        const t0 = performance.now();
        const t = setTimeout(() => reject(new Error(`headless: no echo of ${JSON.stringify(ch)}`)), 10_000);
        ewait = () => {
          if (ebuf.includes(ch)) {
            clearTimeout(t);
            ewait = null;
            resolve(performance.now() - t0);
          }
        };
        api.invoke('console.input', { id, data: ch }).catch(reject);
      });
    const rawEcho = async (ch: string): Promise<number> => {
      rs.drain();
      const t0 = performance.now();
      const w = rs.waitFor(ch);
      rs.write(ch);
      await w;
      return performance.now() - t0;
    };
    // the three shells: a fresh, empty command line
    const reset = async (): Promise<void> => {
      await api.invoke('console.input', { id, data: '\x15' });
      rs.write('\x15');
      fl.send('\x15');
      await nap(300);
      ebuf = '';
      rs.drain();
      fl.drain();
    };
    await api.invoke('console.input', { id, data: '\n' });
    rs.write('\n');
    fl.send('\n');
    await nap(1500);
    await reset();
    const engineMs: number[] = [];
    const rawMs: number[] = [];
    const floorMs: number[] = [];
    const arms: [number[], () => Promise<number>][] = [
      [engineMs, () => engineEcho('x')],
      [rawMs, () => rawEcho('x')],
      [floorMs, () => fl.echo('x')],
    ];
    for (let i = 0; i < samples; i++) {
      if (i && i % 25 === 0) await reset();
      // rotate who goes first so none always runs on a just-woken CPU
      for (let k = 0; k < arms.length; k++) {
        const [into, run] = arms[(i + k) % arms.length]!;
        into.push(await run());
      }
      await nap(20);
    }
    await reset();
    log(`echo: ${samples} samples each`);
    return { engineMs, rawMs, floorMs };
  } finally {
    floor?.close();
    serial?.close();
    ws.close();
    await raw.dispose();
    await floorRaw?.dispose();
  }
}

// ---------------------------------------------------------------------------- where the time goes

export interface StartPhases {
  /** vm.start sent → engine logs "spawning" (store, ports, run dir, args) */
  beforeSpawnMs: number;
  /** spawning → QMP says running */
  spawnToRunningMs: number;
  /** running → the engine's agent loop got its first ping answered */
  runningToAgentMs: number;
  /** agent ready in the engine → vm.start answered */
  agentToReplyMs: number;
}

/** The engine's own lifecycle log of the start that began at `sinceEpochMs`, as phases. */
export async function startPhases(api: ChannelClient, id: string, sinceEpochMs: number, repliedEpochMs: number): Promise<StartPhases | null> {
  const { entries } = await api.invoke('vm.logs', { id, tail: 200 });
  const after = entries.filter((e) => e.source === 'lifecycle' && Date.parse(e.t) >= sinceEpochMs - 1);
  const at = (re: RegExp) => {
    const e = after.find((x) => re.test(x.text));
    return e ? Date.parse(e.t) : null;
  };
  const spawn = at(/^spawning /);
  const running = at(/→ running/);
  const agent = at(/^guest agent is ready/);
  if (spawn === null || running === null || agent === null) return null;
  return { beforeSpawnMs: spawn - sinceEpochMs, spawnToRunningMs: running - spawn, runningToAgentMs: agent - running, agentToReplyMs: repliedEpochMs - agent };
}

/** The same guest write, read straight from a raw twin's console chardev socket: the limit. */
export interface RawConsoleTwin {
  /** how fast the guest itself makes the bytes (the same pipeline into /dev/null): the ceiling for any console */
  producerMBps: number;
  pid: number;
  /** `lost`: what had not arrived 5 s after the write (mbps is then NaN) */
  run(): Promise<{ mbps: number; reads: number; lost: number }>;
  /** the same bytes through a pty alone in this guest (pty-alone.ts), MB/s; needs `ptyAlone` at open */
  ptyAlone(mode: PtyMode): Promise<number>;
  close(): Promise<void>;
}

/** A raw twin with the engine's args, its console read straight from the chardev socket, `bytes` ready in its RAM root. */
export async function openRawConsoleTwin(args: EngineArgs, bytes: number, ptyAlone?: Buffer): Promise<RawConsoleTwin> {
  const raw = await spawnRaw(args.argv, args.runDir);
  let reader: Worker | undefined;
  let agent: Awaited<ReturnType<typeof waitAgentReady>> | undefined;
  const close = async (): Promise<void> => {
    await reader?.terminate();
    agent?.close();
    await raw.dispose();
  };
  try {
    agent = await waitAgentReady(raw);
    const a = agent;
    // read on a thread of its own, as the engine does: QEMU drops console bytes a reader is too
    // late for, and this process's main thread has GC pauses from the headless runs
    const r = new Worker(RAW_READER, { eval: true, workerData: { path: raw.serialSock } });
    reader = r;
    const answers: ((m: { first: number; last: number; got: number; reads: number }) => void)[] = [];
    r.on('message', (m) => answers.shift()?.(m));
    await a.exec(['/bin/sh', '-c', `head -c ${bytes} /dev/zero | tr '\\000' x > ${BENCH_FILE}`], { timeoutMs: 300_000 });
    const p0 = performance.now();
    await a.exec(['/bin/sh', '-c', `cat ${BENCH_FILE} > /dev/null`], { timeoutMs: 300_000 });
    const producerMBps = bytes / 1e6 / ((performance.now() - p0) / 1000);
    if (ptyAlone) await installPtyAlone(a, ptyAlone);
    return {
      producerMBps,
      pid: raw.proc.pid!,
      close,
      ptyAlone(mode) {
        if (!ptyAlone) return Promise.reject(new Error('the twin was opened without the pty-alone helper'));
        return ptyAloneRun(a, bytes, mode);
      },
      async run() {
        const result = new Promise<{ first: number; last: number; got: number; reads: number }>((resolve) => answers.push(resolve));
        r.postMessage({ bytes });
        await a.exec(['/bin/sh', '-c', `${AWAIT_CONSOLE_TTY}cat ${BENCH_FILE} > /dev/flotilla-console`], { timeoutMs: 300_000 });
        const m = await Promise.race([result, nap(5000).then(() => null)]);
        if (!m) {
          // ask the reader what did arrive (its answer also ends this run's count)
          r.postMessage({ report: true });
          const partial = await result;
          return { mbps: Number.NaN, reads: partial.reads, lost: bytes - partial.got };
        }
        return { mbps: bytes / 1e6 / ((m.last - m.first) / 1000), reads: m.reads, lost: 0 };
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The raw reader thread: counts 'x' per run ({bytes}) and answers first/last byte times and reads. */
const RAW_READER = `
const { parentPort, workerData } = require('node:worker_threads');
const { connect } = require('node:net');
let want = 0, got = 0, first = 0, last = 0, reads = 0;
const sock = connect(workerData.path);
sock.on('data', (d) => {
  if (!want) return;
  let n = 0;
  for (let i = d.indexOf(0x78); i !== -1; i = d.indexOf(0x78, i + 1)) n++;
  if (!n) return;
  const now = performance.now();
  if (!got) first = now;
  got += n; last = now; reads++;
  if (got >= want) {
    parentPort.postMessage({ first, last, got, reads });
    want = 0;
  }
});
parentPort.on('message', (m) => {
  if (m.report) {
    parentPort.postMessage({ first, last, got, reads });
    want = 0;
    return;
  }
  want = m.bytes; got = 0; reads = 0;
});
`;

/**
 * The memory lever under TCG: a raw twin with a capped translation buffer (`-accel tcg,tb-size=N`,
 * MiB), booted to agent-ready and left idle a moment; its private memory and boot time.
 */
export async function tbSizeLever(args: EngineArgs, tbSizeMiB: number | null): Promise<{ tbSizeMiB: number | null; bootMs: number; mem: QemuMem }> {
  const i = args.argv.indexOf('-accel');
  if (i < 0 || !args.argv[i + 1]!.startsWith('tcg')) throw new Error('engine args have no -accel tcg');
  const argv = [...args.argv];
  if (tbSizeMiB !== null) argv[i + 1] = `${argv[i + 1]},tb-size=${tbSizeMiB}`;
  const { ms, raw } = await rawStartMs({ argv, runDir: args.runDir });
  try {
    await nap(2000);
    return { tbSizeMiB, bootMs: ms, mem: qemuMem(raw.proc.pid!, MEMORY_MIB) };
  } finally {
    await raw.dispose();
  }
}
