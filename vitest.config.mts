import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

// unit: fast, no QEMU. integration: real QEMU under TCG, real sockets. reliability: issue 6's suite.
//
// Integration files run two at a time: measured on 2 cores, one file at a time kept the box 46 %
// busy (a test mostly waits for one TCG guest, libvirtd or a child process); two at a time, 76 %,
// and the step went from 477 to about 270 s. Reliability checks too (341 → about 230 s). Each
// worker's engines take host ports from their own half of the port range (worker-env.ts). Files
// are independent: each has its own FLOTILLA_HOME, and a check that scans processes looks only at
// its own home's (or its own children). The files that keep both cores busy by themselves, or that
// assert times or deadlines under load they make themselves, run after the others, one at a time
// (the "-solo" projects).

/** Two projects: `include` two files at a time, then `solo` one at a time. */
function twoAtATime(name: string, include: string[], solo: string[], groupOrder: number, timeouts: { testTimeout: number; hookTimeout: number }): TestProjectInlineConfiguration[] {
  // Integration files share their worker's process (isolate: false): each file imported the engine
  // afresh, 50 s of the step's CPU, and the step went from about 488 to 450 s beside the static
  // checks. They share no state: each has its own FLOTILLA_HOME and restores the environment it
  // sets, and the files pass in a shuffled order (`--sequence.shuffle.files`). The reliability
  // checks keep a process each: they kill engines and QEMUs, and trap signals.
  const common = { ...timeouts, setupFiles: ['tests/integration/fixtures/worker-env.ts'], isolate: name !== 'integration' };
  return [
    { test: { name, include, exclude: [...configDefaults.exclude, ...solo], ...common, maxWorkers: 2, sequence: { groupOrder } } },
    { test: { name: `${name}-solo`, include: solo, ...common, fileParallelism: false } },
  ];
}

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['shared/**/*.test.ts', 'electron/**/*.test.ts', 'renderer/**/*.test.ts', 'renderer/**/*.test.tsx', 'scripts/**/*.test.ts', 'tests/unit/**/*.test.ts'],
          environment: 'node',
          maxWorkers: 2,
          // one process per worker for all its files, not one per file: the step went from 70 to
          // about 53 s here, most of it process start and imports. Files share no state: the suite
          // passes in shuffled orders (`--sequence.shuffle`), which found two files whose tests
          // leaned on the order within them (fixed 2026-12-08).
          isolate: false,
        },
      },
      ...twoAtATime(
        'integration',
        ['electron/**/*.itest.ts', 'tests/integration/**/*.itest.ts'],
        // both cores busy by themselves, or a console reader stalled for set times (engine-cli-help,
        // CPU-heavy but with no deadline of its own, fills the idle time of the others instead)
        ['tests/integration/cli-parallel.itest.ts', 'tests/integration/engine-many-vms.itest.ts', 'tests/integration/console-no-loss.itest.ts'],
        1,
        { testTimeout: 180_000, hookTimeout: 180_000 },
      ),
      ...twoAtATime(
        'reliability',
        ['tests/reliability/**/*.rtest.ts'],
        // a QMP answer within 500 ms under a serial flood, the stop ladder's deadlines, a soak's stop deadline
        ['tests/reliability/10-quit-stop-all.rtest.ts', 'tests/reliability/16-soak.rtest.ts', 'tests/reliability/17-serial-flood.rtest.ts'],
        2,
        { testTimeout: 600_000, hookTimeout: 300_000 },
      ),
    ],
  },
});
