// `npm run bench`: every figure of issues 7 and 15 in one run, written to bench/results/latest.json
// and latest.md. A benchmark, not a test: it asserts nothing, and it always finishes: a part that
// cannot measure records its figures as failed, with the error (attempt()), and the rest runs.
// Engine and raw QEMU runs alternate so both see the same machine; the engine runs in its own
// process (`flotilla serve`) and is driven over the headless WebSocket.
//
// Env: BENCH_RUNS (default 5) scales every count; BENCH_ONLY=a,b,… runs a subset (boot, start,
// loadedstart, storm, console, echo, tiles, tiles500, cli, firsttile, idle, lifecycle, shares,
// libvirt, or a libvirt figure's own key) and writes to the temp dir instead of bench/results.
import { cpus, loadavg, tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { buildDefaultGuest, readDefaultGuest } from '../electron/engine/guest/build-default';
import { cleanupHome } from '../tests/integration/fixtures/engine-harness';
import { TEST_DEB_CACHE } from '../tests/integration/fixtures/test-guest';
import { benchDefaultBoot, stat } from './boot';
import {
  MEMORY_MIB,
  consoleThroughput,
  makeBenchLinesFile,
  makeBenchFile,
  echoLatency,
  engineArgsOf,
  engineStartMs,
  engineStorm,
  ensureVms,
  qemuMem,
  openRawConsoleTwin,
  rawStartMs,
  rawStorm,
  startPhases,
  settledRssKiB,
  stopAndWait,
  tbSizeLever,
  type EngineArgs,
  type StartPhases,
} from './lib/engine-benches';
import { startEngineProcess, type EngineProcess } from './lib/engine-process';
import { benchBootBefore } from './lib/boot-before';
import { bootBreakdown, cpuMs, cpuSplitMs, type BootBreakdown } from './lib/boot-breakdown';
import { attempt, failedFigure, figure, FIGURE_ORDER, renderMarkdown, round, type Figure } from './lib/figures';
import { cliList, engineIdleCpu, firstTile, startAll, underCpuHog } from './lib/scale-benches';
import { benchLifecycle, benchShareWrite } from './lib/lifecycle-benches';
import { benchLibvirt } from './lib/libvirt-benches';
import { benchTiles, tilesFigure } from './lib/tiles-bench';
import { compilePtyAlone, type PtyMode } from './lib/pty-alone';

const root = resolve(__dirname, '..', '..');
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
const ONLY = new Set((process.env.BENCH_ONLY ?? '').split(',').filter(Boolean));
const want = (s: string) => ONLY.size === 0 || ONLY.has(s);
const STORM_VMS = Number(process.env.BENCH_STORM_VMS ?? 8);
/** the VMs of the scale figures (cliListMs, firstTileMs, engineIdleCpuPct) */
const SCALE_VMS = Number(process.env.BENCH_SCALE_VMS ?? 16);
const IDLE_WINDOW_S = Number(process.env.BENCH_IDLE_WINDOW_S ?? 20);

/**
 * `count` engine/raw pairs, alternating which side goes first (engine-raw, raw-engine, …): TCG
 * boots on 2 shared cores spread ±10 %, and what ran just before a run matters as much as the
 * run (a graceful power-off or a kill -9, memory being freed), so each side takes each slot
 * equally often.
 */
async function alternatingPairs(
  count: number,
  engine: () => Promise<number>,
  raw: () => Promise<number>,
  each: (i: number, engineMs: number, rawMs: number, order: 'engine first' | 'raw first') => void,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const engineFirst = i % 2 === 0;
    const first = engineFirst ? await engine() : await raw();
    const second = engineFirst ? await raw() : await engine();
    each(i, engineFirst ? first : second, engineFirst ? second : first, engineFirst ? 'engine first' : 'raw first');
  }
}

const log = (l: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${l}`);
const median = (v: number[]) => stat(v).median;
const ms = (v: number) => Math.round(v);

function phaseMedians(p: StartPhases[]): Record<string, number> | string {
  if (!p.length) return 'no lifecycle log found';
  const keys = Object.keys(p[0]!) as (keyof StartPhases)[];
  return Object.fromEntries(keys.map((k) => [k, ms(median(p.map((x) => x[k])))]));
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const load0 = loadavg()[0]!;
  const figures: Figure[] = [];
  const notes: string[] = [];
  const home = await mkdtemp(join(tmpdir(), 'flb-'));
  let engine: EngineProcess | null = null;
  try {
    log(`building the default guest from the current sources into ${home}`);
    // BENCH_GUEST_FROM=<a home with images/default built from these sources>: copy it instead of
    // building (development runs of single figures; a full run builds)
    const from = process.env.BENCH_GUEST_FROM;
    const made = from
      ? cp(join(from, 'images', 'default'), join(home, 'images', 'default'), { recursive: true }).then(async () => ({ dir: join(home, 'images', 'default'), manifest: (await readDefaultGuest(home)).manifest }))
      : buildDefaultGuest({ home, cacheDir: process.env.FLOTILLA_TEST_DEB_CACHE ?? TEST_DEB_CACHE });
    const guest = await made.catch((err: unknown) => {
      // nothing of the engine or guest can be measured without it: every such figure records why
      const keys = FIGURE_ORDER.filter((k) => !k.startsWith('tiles'));
      for (const k of keys) figures.push(failedFigure(k, new Error(`the default guest could not be built: ${(err as Error).message}`)));
      return null;
    });
    if (guest) {

    if (want('boot')) await attempt(['defaultBootMs'], figures, async () => {
      log(`defaultBootMs: ${RUNS} boots (bench/boot.ts)`);
      const s = await benchDefaultBoot({ dir: guest.dir, runs: RUNS, log });
      // "before": the same guest booted the way it was first built (bzImage, SeaBIOS, gzip initramfs)
      const before = await benchBootBefore(home, process.env.FLOTILLA_TEST_DEB_CACHE ?? TEST_DEB_CACHE, Math.max(2, Math.ceil(RUNS / 2)), log).catch((e: unknown) => {
        notes.push(`boot "before" not measured: ${(e as Error).message}`);
        return null;
      });
      // where the time goes, from the guest's own clocks (separate boots: the breakdown's exec is not timed above)
      const parts: BootBreakdown[] = [];
      for (let i = 0; i < Math.max(2, Math.ceil(RUNS / 2)); i++) {
        const b = await bootBreakdown(guest.dir).catch((e: unknown) => {
          notes.push(`boot breakdown failed: ${(e as Error).message}`);
          return null;
        });
        if (b) parts.push(b);
      }
      const partMedians = parts.length
        ? Object.fromEntries((Object.keys(parts[0]!) as (keyof BootBreakdown)[]).map((k) => [k, ms(median(parts.map((p) => p[k] ?? NaN)))]))
        : 'not measured';
      log(`boot breakdown: ${JSON.stringify(partMedians)}`);
      figures.push(
        figure('defaultBootMs', s.runs, 'one boot of the default guest with its boot profile (guest-launcher args), spawn → guest-ping answered', {
          breakdownMedianMs: partMedians,
          beforeBootWorkMs: before ?? 'not measured',
          beforeIs: 'same packages, init and agent; distribution bzImage through SeaBIOS, gzip initramfs, cmdline "console=ttyS0 quiet", default CPU model',
        }),
      );
    }, log);

    const engineKeys = [
      ...(want('start') ? ['startOverheadRatio'] : []),
      ...(want('loadedstart') ? ['loadedStartOverheadRatio'] : []),
      ...(want('storm') ? ['stormRatio', 'engineRssPerVmMiB', 'qemuRssOverheadMiB'] : []),
      ...(want('console') ? ['consoleThroughputMBps', 'consoleLostBytes'] : []),
      ...(want('echo') ? ['echoLatencyRatio'] : []),
    ];
    if (engineKeys.length) await attempt(engineKeys, figures, async () => {
      const eng = await startEngineProcess(root, home);
      engine = eng;
      const api = eng.api;
      log(`engine: flotilla serve pid ${engine.pid}`);
      const vms = await ensureVms(api, STORM_VMS);
      const first = vms[0]!;
      // warm-up start: JIT, page cache, and the engine's QEMU args to give raw QEMU
      const warm = await engineStartMs(api, first.id);
      const args: EngineArgs = engineArgsOf(home, warm.vm);
      log(`warm-up engine start ${ms(warm.ms)} ms; engine QEMU args captured from /proc/${warm.vm.pid}/cmdline`);
      await stopAndWait(api, first.id);
      const warmRaw = await rawStartMs(args);
      await warmRaw.raw.dispose();
      notes.push(`Engine QEMU command line (raw QEMU gets the same, sockets moved): \`${args.argv.join(' ')}\``);

      if (want('start')) await attempt(['startOverheadRatio'], figures, async () => {
        const e: number[] = [];
        const r: number[] = [];
        const phases: StartPhases[] = [];
        // CPU to agent-ready: QEMU's own (same work when the guest boots the same way) and the engine's
        const cpu = { qemuEngine: [] as number[], qemuRaw: [] as number[], engine: [] as number[], qemuEngineSys: [] as number[], qemuRawSys: [] as number[] };
        const pairs = 2 * RUNS;
        const rawRun = async (): Promise<number> => {
          const b = await rawStartMs(args);
          cpu.qemuRaw.push(cpuMs(b.raw.proc.pid!) ?? NaN);
          cpu.qemuRawSys.push(cpuSplitMs(b.raw.proc.pid!)?.sys ?? NaN);
          r.push(b.ms);
          await b.raw.dispose();
          return b.ms;
        };
        const engineRun = async (): Promise<number> => {
          const e0 = cpuMs(eng.pid) ?? NaN;
          const a = await engineStartMs(api, first.id);
          cpu.engine.push((cpuMs(eng.pid) ?? NaN) - e0);
          cpu.qemuEngine.push(a.vm.pid ? (cpuMs(a.vm.pid) ?? NaN) : NaN);
          cpu.qemuEngineSys.push(a.vm.pid ? (cpuSplitMs(a.vm.pid)?.sys ?? NaN) : NaN);
          e.push(a.ms);
          const p = await startPhases(api, first.id, a.sinceEpochMs, a.repliedEpochMs);
          if (p) phases.push(p);
          await stopAndWait(api, first.id);
          return a.ms;
        };
        await alternatingPairs(pairs, engineRun, rawRun, (i, em, rm, order) => log(`start ${i + 1}/${pairs} (${order}): engine ${ms(em)} ms, raw ${ms(rm)} ms`));
        figures.push(
          figure('startOverheadRatio', e.map((v, i) => v / r[i]!), 'an engine start and a raw start back to back, the pairs alternating which goes first; run = engine ms ÷ raw ms of a pair', {
            engineMs: stat(e.map(ms)),
            rawMs: stat(r.map(ms)),
            ratioOfMedians: round(median(e) / median(r)),
            medianOverheadMs: ms(median(e) - median(r)),
            enginePhasesMedianMs: phaseMedians(phases),
            cpuMsToAgentReady: {
              qemuEngine: stat(cpu.qemuEngine),
              qemuRaw: stat(cpu.qemuRaw),
              qemuEngineKernel: stat(cpu.qemuEngineSys),
              qemuRawKernel: stat(cpu.qemuRawSys),
              engineProcess: stat(cpu.engine),
            },
          }),
        );
      }, log);

      if (want('loadedstart')) await attempt(['loadedStartOverheadRatio'], figures, async (partial) => {
        // the same pairs with a CPU hog on every core for both sides (started before each pair)
        const e: number[] = [];
        const r: number[] = [];
        partial.engineMs = e;
        partial.rawMs = r;
        const pairs = Math.max(3, RUNS);
        for (let i = 0; i < pairs; i++) {
          await underCpuHog(() =>
            alternatingPairs(
              1,
              async () => {
                const a = await engineStartMs(api, first.id);
                e.push(a.ms);
                await stopAndWait(api, first.id);
                return a.ms;
              },
              async () => {
                const b = await rawStartMs(args);
                r.push(b.ms);
                await b.raw.dispose();
                return b.ms;
              },
              (_, em, rm) => log(`loaded start ${i + 1}/${pairs}: engine ${ms(em)} ms, raw ${ms(rm)} ms`),
            ),
          );
        }
        figures.push(
          figure('loadedStartOverheadRatio', e.map((v, i) => v / r[i]!), 'as startOverheadRatio (pairs, engine side first), with a CPU hog (one busy process per core) running through the pair; run = engine ms ÷ raw ms', {
            engineMs: stat(e.map(ms)),
            rawMs: stat(r.map(ms)),
            ratioOfMedians: round(median(e) / median(r)),
          }),
        );
      }, log);

      if (want('storm')) await attempt(['stormRatio', 'engineRssPerVmMiB', 'qemuRssOverheadMiB'], figures, async () => {
        const rounds = Math.max(2, 2 * Math.ceil(RUNS / 4));
        const ratios: number[] = [];
        const eMs: number[] = [];
        const rMs: number[] = [];
        const rawPerVm: number[] = [];
        const failures: string[] = [];
        const perVm: number[] = [];
        const mem: ReturnType<typeof qemuMem>[] = [];
        const engineRss: { idleMiB: number; busyMiB: number }[] = [];
        const phases: StartPhases[] = [];
        const engineCpuMs: number[] = [];
        const rawStormRound = async (): Promise<number> => {
          const raw = await rawStorm(args, STORM_VMS);
          failures.push(...raw.failures);
          rawPerVm.push(...raw.perVmMs);
          await Promise.all(raw.raws.map((x) => x.dispose()));
          rMs.push(raw.ms);
          if (raw.failures.length) log(`storm: raw ${raw.failures.length} failed`);
          return raw.ms;
        };
        const engineStormRound = async (): Promise<number> => {
          await eng.gc();
          const idle = await settledRssKiB(eng.pid);
          const c0 = cpuMs(eng.pid) ?? NaN;
          const s = await engineStorm(api, vms);
          engineCpuMs.push((cpuMs(eng.pid) ?? NaN) - c0);
          failures.push(...s.failures);
          phases.push(...s.phases);
          await new Promise((r) => setTimeout(r, 2000)); // a couple of stats ticks and agent pings
          await eng.gc();
          const busy = await settledRssKiB(eng.pid);
          for (const vm of s.infos) if (vm.pid) mem.push(qemuMem(vm.pid, MEMORY_MIB));
          const running = (await api.invoke('vm.list', {})).filter((v) => v.state === 'running').length;
          perVm.push((busy - idle) / 1024 / Math.max(1, running));
          engineRss.push({ idleMiB: round(idle / 1024, 1), busyMiB: round(busy / 1024, 1) });
          await Promise.all(vms.map((v) => stopAndWait(api, v.id)));
          eMs.push(s.ms);
          if (s.failures.length) log(`storm: engine ${s.failures.length} failed`);
          log(`storm engine RSS ${round(idle / 1024, 1)} → ${round(busy / 1024, 1)} MiB`);
          return s.ms;
        };
        // An uncounted round of each side first: only the first VM had the warm-up start, and a
        // VM's first boot also formats its new /root disk and makes its SSH host key, which the
        // raw twins (a copy of a booted disk) never do. Its ratio stays in the details.
        const w = await engineStorm(api, vms);
        await Promise.all(vms.map((v) => stopAndWait(api, v.id)));
        const wRaw = await rawStorm(args, STORM_VMS);
        await Promise.all(wRaw.raws.map((x) => x.dispose()));
        const warmUpRound = { engineMs: ms(w.ms), rawMs: ms(wRaw.ms), ratio: round(w.ms / wRaw.ms), failures: w.failures.length + wRaw.failures.length };
        log(`storm warm-up (uncounted): engine ${ms(w.ms)} ms, raw ${ms(wRaw.ms)} ms`);
        await alternatingPairs(rounds, engineStormRound, rawStormRound, (i, e, r, order) => {
          ratios.push(e / r);
          log(`storm ${i + 1}/${rounds} (${order}): engine ${ms(e)} ms, raw ${ms(r)} ms`);
        });
        // control for the engine's readiness polling: raw QEMUs judged the way the engine's agent
        // loop judges them (3 s per attempt, 1 s pause between attempts; supervisor.ts agentLoop)
        const polled = await rawStorm(args, STORM_VMS, { attemptMs: 3000, napMs: 1000 });
        await Promise.all(polled.raws.map((x) => x.dispose()));
        log(`storm control: raw with engine-like agent polling ${ms(polled.ms)} ms`);
        figures.push(
          figure('stormRatio', ratios, `${STORM_VMS} engine starts at once (vm.start waitAgent) and ${STORM_VMS} raw QEMUs at once, rounds alternating which goes first; run = engine ms ÷ raw ms`, {
            engineMs: stat(eMs.map(ms)),
            warmUpRound,
            engineProcessCpuMsPerStorm: stat(engineCpuMs),
            rawMs: stat(rMs.map(ms)),
            failures: failures.length,
            failureMessages: failures.slice(0, 10),
            enginePhasesMedianMsPerVm: phaseMedians(phases),
            rawSpawnToAgentMedianMsPerVm: rawPerVm.length ? ms(median(rawPerVm)) : null,
            controlRawWithEngineLikePollingMs: { all: ms(polled.ms), medianPerVm: polled.perVmMs.length ? ms(median(polled.perVmMs)) : null, failures: polled.failures.length },
            slowestVmPhasesMs: phases.length ? phases.reduce((a, b) => (a.beforeSpawnMs + a.spawnToRunningMs + a.runningToAgentMs >= b.beforeSpawnMs + b.spawnToRunningMs + b.runningToAgentMs ? a : b)) : null,
          }, failures.length === 0),
        );
        figures.push(figure('engineRssPerVmMiB', perVm, `engine RSS (full GC, then median of 5 samples over 2 s) with ${STORM_VMS} VMs running minus with none, ÷ VMs running`, { engineRss }));
        const pick = (k: keyof (typeof mem)[number]) => stat(mem.map((m) => m[k] as number).filter((v) => typeof v === 'number'));
        // the lever: TCG's translation buffer capped, one raw twin each, against the engine's args
        const levers: Record<string, unknown>[] = [];
        for (const tb of [null, 32, 16]) {
          const r = await tbSizeLever(args, tb);
          levers.push({ tbSizeMiB: tb ?? 'default (1 GiB)', bootMs: ms(r.bootMs), privateMiB: r.mem.privateMiB, rssMinusResidentGuestRamMiB: r.mem.overRssMiB });
        }
        log(`tb-size lever: ${JSON.stringify(levers)}`);
        figures.push(
          figure('qemuRssOverheadMiB', mem.map((m) => m.overPssMiB), `one QEMU of the storm, ${STORM_VMS} running, 2 s after all were agent-ready; PSS − resident guest RAM`, {
            rssMiB: pick('rssMiB'),
            guestRamResidentMiB: pick('guestResidentMiB'),
            rssMinusResidentGuestRamMiB: pick('overRssMiB'),
            rssMinusConfiguredRamMiB: pick('rssMinusConfiguredMiB'),
            tcgTranslationBufferMiB: pick('tcgBufferMiB'),
            privateAnonMinusResidentGuestRamMiB: pick('privateMiB'),
            leverTcgTbSize_oneIdleRawTwin: levers,
          }),
        );
      }, log);

      if (want('console') || want('echo')) {
        await engineStartMs(api, first.id);
        if (want('console')) await attempt(['consoleThroughputMBps', 'consoleLostBytes'], figures, async (partial) => {
          // 4 MiB: at virtio-console speed (several MB/s) a smaller write is over before timing means much
          const bytes = Number(process.env.BENCH_CONSOLE_BYTES ?? 4 * 1024 * 1024);
          // one raw twin beside the engine's VM; a warm-up pair first (the first write through a fresh
          // guest's tty path also translates its code), then headless and raw alternate
          // the guest's pty alone (no relay, no port, no host), in the twin: the bound of any console
          let ptyHelper: Buffer | undefined;
          let ptyAloneError: string | undefined;
          try {
            ptyHelper = compilePtyAlone(join(root, 'bench'));
          } catch (err) {
            ptyAloneError = `bench/pty-alone.c did not compile: ${(err as Error).message}`;
          }
          const twin = await openRawConsoleTwin(args, bytes, ptyHelper);
          const ptyAlone = { shell: [] as number[], raw: [] as number[] };
          const runs: number[] = [];
          const raw: number[] = [];
          const reads: number[] = [];
          const times: number[] = [];
          const events: number[] = [];
          const engineCpu: number[] = [];
          const qemuCpu = { headless: [] as number[], raw: [] as number[] };
          const benchCpu = { headless: [] as number[], raw: [] as number[] };
          const engine = eng;
          const vmPid = Number(readFileSync(join(home, 'run', first.id, 'qemu.pid'), 'utf8').trim());
          /** CPU ms used while `f` runs by: the engine, the QEMU whose console is read, this process */
          const cpuOf = async <T,>(qemuPid: number, f: () => Promise<T>): Promise<{ r: T; engine: number; qemu: number; bench: number }> => {
            const e0 = cpuMs(engine.pid) ?? NaN;
            const q0 = cpuMs(qemuPid) ?? NaN;
            const b0 = process.cpuUsage();
            const r = await f();
            const b1 = process.cpuUsage(b0);
            return { r, engine: (cpuMs(engine.pid) ?? NaN) - e0, qemu: (cpuMs(qemuPid) ?? NaN) - q0, bench: (b1.user + b1.system) / 1000 };
          };
          // bytes lost on each side, per run; every run counts for consoleLostBytes
          const lost = { headless: [] as number[], raw: [] as number[], headlessLoaded: [] as number[], rawLoaded: [] as number[], headlessLines: [] as number[], headless2Vcpu: [] as number[] };
          const loadedRuns: number[] = [];
          partial.lostBytes = lost;
          try {
            await makeBenchFile(api, first.id, bytes);
            await consoleThroughput(engine, first.id, bytes, { fileReady: true });
            await twin.run();
            // twice the runs: the odd ones with a CPU hog on every core (for both sides), for
            // consoleLostBytes; the throughput figure is the unloaded runs, the loaded ones beside it
            const n = 2 * Math.max(3, RUNS);
            for (let i = 0; i < n; i++) {
              const loaded = i % 2 === 1;
              const pair = async (): Promise<void> => {
                const h = await cpuOf(vmPid, () => consoleThroughput(engine, first.id, bytes, { fileReady: true }));
                const w = await cpuOf(twin.pid, () => twin.run());
                const r = h.r;
                const t = w.r;
                (loaded ? lost.headlessLoaded : lost.headless).push(r.lost);
                (loaded ? lost.rawLoaded : lost.raw).push(t.lost);
                log(`console ${i + 1}/${n}${loaded ? ' (CPU hog)' : ''}: headless ${r.mbps.toFixed(3)} MB/s, lost ${r.lost}; raw ${t.mbps.toFixed(3)} MB/s, lost ${t.lost}`);
                if (loaded) {
                  if (!r.lost) loadedRuns.push(r.mbps);
                  return;
                }
                engineCpu.push(h.engine);
                qemuCpu.headless.push(h.qemu);
                benchCpu.headless.push(round(h.bench));
                if (!r.lost) {
                  runs.push(r.mbps);
                  times.push(r.ms);
                  events.push(r.events);
                }
                qemuCpu.raw.push(w.qemu);
                benchCpu.raw.push(round(w.bench));
                if (!t.lost) {
                  raw.push(t.mbps);
                  reads.push(t.reads);
                }
              };
              await (loaded ? underCpuHog(pair) : pair());
            }
            if (ptyHelper) {
              try {
                await twin.ptyAlone('shell'); // warm-up: translates the helper's and the pty's code
                for (let i = 0; i < Math.max(3, RUNS); i++) {
                  const order: PtyMode[] = i % 2 ? ['raw', 'shell'] : ['shell', 'raw'];
                  for (const mode of order) {
                    const v = await twin.ptyAlone(mode);
                    ptyAlone[mode].push(v);
                    log(`pty alone ${i + 1} (${mode}): ${v.toFixed(3)} MB/s`);
                  }
                }
              } catch (err) {
                ptyAloneError = (err as Error).message;
              }
            }
          } finally {
            await twin.close();
          }
          // beside them: output in lines, as `cat` of a log gives (the pty's NL → CRLF is what
          // costs there; the relay does it, relay.c says why), through the engine only
          const lineRuns: number[] = [];
          await makeBenchLinesFile(api, first.id, bytes);
          await consoleThroughput(engine, first.id, bytes, { fileReady: true, lines: true });
          for (let i = 0; i < Math.max(3, RUNS); i++) {
            const r = await consoleThroughput(engine, first.id, bytes, { fileReady: true, lines: true });
            log(`console in 64-byte lines ${i + 1}: ${r.mbps.toFixed(3)} MB/s, lost ${r.lost}`);
            lost.headlessLines.push(r.lost);
            if (!r.lost) lineRuns.push(r.mbps);
          }
          // the lever the pty leaves: a second vCPU, so the writer and the relay run side by side
          // (same write, through the engine, a VM like the first with cpus: 2); not the figure
          const twoVcpuRuns: number[] = [];
          let twoVcpuError: string | undefined;
          try {
            const have = await api.invoke('vm.list', {});
            const two = have.find((v) => v.name === 'bench-2vcpu') ?? (await api.invoke('vm.create', { config: { name: 'bench-2vcpu', source: { kind: 'default' }, cpus: 2, memoryMiB: MEMORY_MIB } }));
            await engineStartMs(api, two.id);
            try {
              await makeBenchFile(api, two.id, bytes);
              await consoleThroughput(engine, two.id, bytes, { fileReady: true });
              for (let i = 0; i < Math.max(3, RUNS); i++) {
                const r = await consoleThroughput(engine, two.id, bytes, { fileReady: true });
                log(`console, 2 vCPUs ${i + 1}: ${r.mbps.toFixed(3)} MB/s, lost ${r.lost}`);
                lost.headless2Vcpu.push(r.lost);
                if (!r.lost) twoVcpuRuns.push(r.mbps);
              }
            } finally {
              // removed again: the scale figures count the VMs in the list (16, bench-N)
              await stopAndWait(api, two.id);
              await api.invoke('vm.delete', { id: two.id });
            }
          } catch (err) {
            twoVcpuError = (err as Error).message;
          }
          const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
          const lostDetail = {
            bytesPerRun: bytes,
            headlessUnloaded: lost.headless,
            headlessUnderCpuHog: lost.headlessLoaded,
            rawUnloaded: lost.raw,
            rawUnderCpuHog: lost.rawLoaded,
            headlessIn64ByteLines: lost.headlessLines,
            headless2Vcpu: lost.headless2Vcpu,
          };
          figures.push(
            figure('consoleLostBytes', [sum(lost.headless) + sum(lost.headlessLoaded) + sum(lost.headlessLines) + sum(lost.headless2Vcpu)], `all ${lost.headless.length + lost.headlessLoaded.length} console runs of ${bytes} bytes (half of them with a CPU hog on every core), the ${lost.headlessLines.length} in 64-byte lines and the ${lost.headless2Vcpu.length} of a 2-vCPU VM; run = bytes that did not reach the headless client, summed`, {
              lostBytesPerRun: lostDetail,
              rawSideLostBytes: sum(lost.raw) + sum(lost.rawLoaded),
            }),
          );
          if (!runs.length) throw new Error(`no console run delivered all ${bytes} bytes (lost per run: ${JSON.stringify(lostDetail)})`);
          figures.push(
            figure('consoleThroughputMBps', runs, `the guest writes ${bytes} bytes to its console's terminal (/dev/flotilla-console, the pty relayed to the console port; vm.exec); timed at a headless WebSocket client from the first to the last byte; after a warm-up, alternating with the raw twin; runs without a CPU hog (those with one are in the details)`, {
              bytes,
              ms: stat(times.map(ms)),
              rawChardevSocketMBps: raw.length ? stat(raw.map((v) => round(v))) : 'no complete raw run',
              headlessUnderCpuHogMBps: loadedRuns.length ? stat(loadedRuns.map((v) => round(v))) : 'no complete run',
              headlessShareOfRaw: raw.length ? round(median(runs) / median(raw)) : null,
              headlessBytesPerConsoleDataEvent: round(bytes / median(events), 1),
              rawBytesPerSocketRead: reads.length ? round(bytes / median(reads), 1) : null,
              cpuMsPerRun: {
                what: 'CPU ms used during one run (the write and its delivery) by the engine (all threads), the QEMU written through, and the bench process (WebSocket client; raw: its reader thread)',
                engine: stat(engineCpu),
                qemuHeadless: stat(qemuCpu.headless),
                qemuRaw: stat(qemuCpu.raw),
                benchHeadless: stat(benchCpu.headless),
                benchRaw: stat(benchCpu.raw),
              },
              guestCatToDevNullMBps_agentRoundTripIncluded: round(twin.producerMBps),
              guestPtyAloneMBps: {
                what: `the same bytes through a pty alone in the raw twin's guest (bench/pty-alone.c: no relay, no virtio port, no host), read as the relay reads; shell = the console shell's settings (OPOST on, ONLCR off), raw = cfmakeraw (OPOST off)`,
                shell: ptyAlone.shell.length ? stat(ptyAlone.shell.map((v) => round(v))) : (ptyAloneError ?? 'no run'),
                raw: ptyAlone.raw.length ? stat(ptyAlone.raw.map((v) => round(v))) : (ptyAloneError ?? 'no run'),
              },
              headlessIn64ByteLinesMBps: lineRuns.length ? stat(lineRuns.map((v) => round(v))) : 'no complete run',
              headless2VcpuMBps: twoVcpuRuns.length ? stat(twoVcpuRuns.map((v) => round(v))) : (twoVcpuError ?? 'no complete run'),
            }),
          );
        }, log);
        if (want('echo')) await attempt(['echoLatencyRatio'], figures, async () => {
          const blocks = Math.max(3, Math.ceil(RUNS * 1.2));
          const res = await echoLatency(eng, first.id, args, blocks * 10, log);
          const blockRatios = (over: number[]): number[] => {
            const out: number[] = [];
            for (let b = 0; b < blocks; b++) out.push(median(over.slice(b * 10, b * 10 + 10)) / median(res.rawMs.slice(b * 10, b * 10 + 10)));
            return out;
          };
          const ratios = blockRatios(res.engineMs);
          const floorRatios = blockRatios(res.floorMs);
          figures.push(
            figure('echoLatencyRatio', ratios, 'a block of 10 keystrokes each, headless, raw and the floor relay taking turns to go first; run = median headless ÷ median raw', {
              headlessMs: stat(res.engineMs.map((v) => round(v, 2))),
              rawMs: stat(res.rawMs.map((v) => round(v, 2))),
              ratioOfMedians: round(median(res.engineMs) / median(res.rawMs)),
              floor_minimalRelay: {
                what: 'the same keystrokes through bench/echo-relay.ts (a separate process: a ws server on loopback and a unix socket to a second raw QEMU, no engine logic), same blocks; ratio = its median ÷ the raw median of the block',
                ms: stat(res.floorMs.map((v) => round(v, 2))),
                ratio: stat(floorRatios.map((v) => round(v))),
              },
              headlessOverFloorRatio: round(median(ratios) / median(floorRatios)),
            }),
          );
        }, log);
        await stopAndWait(api, first.id);
      }
    }, log);

    // (set inside the parts above; TypeScript cannot see assignments made in callbacks)
    const left = engine as EngineProcess | null;
    if (left) {
      const eng = left;
      engine = null;
      for (const v of await eng.api.invoke('vm.list', {}).catch(() => [])) await stopAndWait(eng.api, v.id).catch(() => undefined);
      await eng.close().catch(() => undefined);
    }

    if (want('lifecycle')) await attempt(['snapshotSaveMs', 'snapshotRevertMs', 'cloneFullMsPerGiB'], figures, async () => {
      const eng = await startEngineProcess(root, home);
      engine = eng;
      log('lifecycle: snapshot save/revert and full clone (bench/lib/lifecycle-benches.ts)');
      figures.push(...(await benchLifecycle(eng.api, RUNS, log)));
      engine = null;
      await eng.close();
    }, log);

    if (want('shares')) await attempt(['shareWriteMBps', 'shareWriteRatio'], figures, async () => {
      const eng = await startEngineProcess(root, home);
      engine = eng;
      log('shares: dd into a shared folder from the guest and on the host (bench/lib/lifecycle-benches.ts)');
      figures.push(...(await benchShareWrite(eng.api, RUNS, log)));
      engine = null;
      await eng.close();
    }, log);

    // issue 13: libvirt hosts (the set-up of scripts/libvirt-test-setup.sh), each key alone or all
    const libvirtKeys = ['libvirtStartRatio', 'libvirtHostOverheadRatio', 'remoteListMs'];
    const wantLibvirt = (k: string) => want('libvirt') || ONLY.has(k);
    if (libvirtKeys.some(wantLibvirt)) await attempt(libvirtKeys.filter(wantLibvirt), figures, async () => {
      const eng = await startEngineProcess(root, home);
      engine = eng;
      log('libvirt: starts beside virsh, and a remote list (bench/lib/libvirt-benches.ts)');
      await benchLibvirt(root, home, eng.api, RUNS, wantLibvirt, figures, log);
      engine = null;
      for (const v of await eng.api.invoke('vm.list', {}).catch(() => [])) if (!v.host || v.host === 'local') await stopAndWait(eng.api, v.id).catch(() => undefined);
      // the hosts go again: the scale figures that follow are defined for this computer's VMs alone
      // (until 2026-12-07 they ran with both hosts connected, which read engineIdleCpuPct 3.55 against 0.95 alone)
      for (const h of await eng.api.invoke('host.list', {}).catch(() => [])) if (h.kind === 'libvirt') await eng.api.invoke('host.remove', { name: h.id }).catch(() => undefined);
      await eng.close();
    }, log);

    // scale: SCALE_VMS running built-in VMs behind `flotilla serve` with the built renderer
    const scaleKeys = [...(want('cli') ? ['cliListMs'] : []), ...(want('firsttile') ? ['firstTileMs'] : []), ...(want('idle') ? ['engineIdleCpuPct'] : [])];
    if (scaleKeys.length) await attempt(scaleKeys, figures, async () => {
      const eng = await startEngineProcess(root, home, { rendererDir: join(root, 'dist', 'renderer') });
      engine = eng;
      const vms = await ensureVms(eng.api, SCALE_VMS);
      // a few at a time: SCALE_VMS TCG boots at once on 2 cores only measure the storm again
      for (let i = 0; i < vms.length; i += 4) await startAll(eng.api, vms.slice(i, i + 4).map((v) => v.id));
      log(`scale: ${vms.length} VMs running behind ${eng.url.replace(/#.*/, '#…')}`);
      if (want('cli')) await attempt(['cliListMs'], figures, async () => {
        const r = await cliList(root, home, 2 * RUNS, vms.length);
        log(`cliListMs: ${r.cliMs.map(ms).join(', ')} ms (node -e 0: ${r.nodeMs.map(ms).join(', ')} ms)`);
        figures.push(
          figure('cliListMs', r.cliMs, `\`node dist/cli/flotilla.js list --json\` with the engine serving ${vms.length} running VMs, spawn → exit; alternating with the reference, a bare \`node -e 0\``, {
            nodeBareMs: stat(r.nodeMs.map(ms)),
            overBareNodeMs: ms(median(r.cliMs) - median(r.nodeMs)),
          }),
        );
      }, log);
      if (want('firsttile')) await attempt(['firstTileMs'], figures, async () => {
        const r = await firstTile(root, eng.url, RUNS);
        log(`firstTileMs: ${r.tileMs.map(ms).join(', ')} ms (first contentful paint: ${r.fcpMs.map(ms).join(', ')} ms; cold cache: ${r.coldTileMs.map(ms).join(', ')} ms)`);
        figures.push(
          figure('firstTileMs', r.tileMs, `a new tab in a browser context a warm-up tab loaded first (so the HTTP cache is warm) navigates to the served app (${vms.length} running VMs) → the first tile is in the DOM and a frame after it was produced (two rAFs); performance.now() from the navigation's start`, {
            firstTileInDomMs: stat(r.inDomMs.map(ms)),
            // the definition used until 2026-12-05: every tab in a fresh context (empty cache)
            oldDefinition_coldContextTileMs: stat(r.coldTileMs.map(ms)),
            reference_firstContentfulPaintMs: stat(r.fcpMs.map(ms)),
          }),
        );
      }, log);
      if (want('idle')) await attempt(['engineIdleCpuPct'], figures, async () => {
        const r = await engineIdleCpu(root, eng, eng.url, 3, IDLE_WINDOW_S);
        log(`engineIdleCpuPct: ${r.withClientPct.map((v) => v.toFixed(2)).join(', ')} % (no client: ${r.noClientPct.toFixed(2)} %)`);
        figures.push(
          figure('engineIdleCpuPct', r.withClientPct, `engine process CPU (user + system, all threads) ÷ wall time, in % of one core, over a ${IDLE_WINDOW_S} s window (3 in a row, ${3 * IDLE_WINDOW_S} s) with ${vms.length} idle running VMs and one Chromium tab on the grid (thumbnails and stats on)`, {
            tilesShown: r.tilesShown,
            reference_noClientPct: round(r.noClientPct, 2),
          }),
        );
      }, log);
      engine = null;
      for (const v of vms) await stopAndWait(eng.api, v.id).catch(() => undefined);
      await eng.close();
    }, log);

    if (want('tiles')) await attempt(['tiles100P95FrameMs'], figures, async () => {
      const windows = 3;
      const seconds = 4;
      // BENCH_TILES_BEFORE=<a built renderer dir>: the same bench on an older renderer first, same run
      const beforeDir = process.env.BENCH_TILES_BEFORE;
      const before = beforeDir ? tilesFigure(await benchTiles(root, { seconds: windows * seconds, rendererDir: beforeDir }), seconds, windows) : null;
      const f = tilesFigure(await benchTiles(root, { seconds: windows * seconds }), seconds, windows);
      if (before) f.detail.sameRunBefore = { rendererDir: beforeDir, runs: before.runs, median: before.median, ...before.detail };
      log(`tiles: p95 frame work per window ${f.runs.map((v) => v.toFixed(1)).join(', ')} ms${before ? ` (before: ${before.runs.map((v) => v.toFixed(1)).join(', ')} ms)` : ''}`);
      figures.push(f);
    }, log);
    if (want('tiles500')) await attempt(['tiles500P95FrameMs'], figures, async () => {
      const windows = 3;
      const seconds = 4;
      const f = tilesFigure(await benchTiles(root, { vms: 500, seconds: windows * seconds }), seconds, windows, 'tiles500P95FrameMs');
      log(`tiles500: p95 frame work per window ${f.runs.map((v) => v.toFixed(1)).join(', ')} ms`);
      figures.push(f);
    }, log);
    }
  } finally {
    const left = engine as EngineProcess | null;
    if (left) {
      for (const v of await left.api.invoke('vm.list', {}).catch(() => [])) await stopAndWait(left.api, v.id).catch(() => undefined);
      await left.close().catch(() => undefined);
    }
    await cleanupHome(home);
  }

  // what a VM started by the engine boots like: raw QEMU with the engine's args, from the start runs
  const boot = figures.find((f) => f.key === 'defaultBootMs');
  const start = figures.find((f) => f.key === 'startOverheadRatio');
  if (boot && start) boot.detail.engineArgsRawBootMs = start.detail.rawMs;
  figures.sort((a, b) => FIGURE_ORDER.indexOf(a.key) - FIGURE_ORDER.indexOf(b.key));
  let qemuVersion = 'unknown';
  try {
    qemuVersion = /version ([^\s]+)/.exec(execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }))?.[1] ?? qemuVersion;
  } catch {
    /* recorded as unknown */
  }
  const machine = { cpus: cpus().length, accel: 'tcg', qemu: qemuVersion, node: process.version, loadAvgAtStart: round(load0, 2), loadAvgAtEnd: round(loadavg()[0]!, 2), runs: RUNS };
  const report = { generatedAt: new Date().toISOString(), durationS: (Date.now() - t0) / 1000, machine, figures, notes };
  const outDir = ONLY.size ? tmpdir() : join(root, 'bench', 'results');
  const base = ONLY.size ? 'flotilla-bench-partial' : 'latest';
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, `${base}.json`), JSON.stringify({ ...report, figures: Object.fromEntries(figures.map((f) => [f.key, f])) }, null, 2) + '\n');
  await writeFile(join(outDir, `${base}.md`), renderMarkdown(report));
  for (const f of figures) log(`${f.key}: median ${f.median} ${f.unit} (min ${f.min}, max ${f.max}) goal ${f.goal.op} ${f.goal.value} → ${f.met ? 'met' : 'MISSED'}`);
  log(`wrote ${join(outDir, `${base}.json`)} and .md in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
