import { configDefaults, defineConfig } from 'vitest/config';

// unit: fast, no QEMU. integration: real QEMU under TCG, real sockets. reliability: issue 6's suite.
//
// Integration files run two at a time: measured on 2 cores, one file at a time kept the box 46 %
// busy (a test mostly waits for one TCG guest, libvirtd or a child process); two at a time, 76 %,
// and the step went from 477 to about 270 s. Each worker's engines take host ports from their own
// half of the port range (worker-env.ts). The files that keep both cores busy by themselves, or
// that stall a console's reader for set times, run after them, one at a time (integration-solo). Files are independent: each has its own FLOTILLA_HOME, and a check
// that scans processes looks only at its own home's (or its own children).
const SOLO = [
  'tests/integration/cli-parallel.itest.ts',
  'tests/integration/engine-many-vms.itest.ts',
  'tests/integration/engine-cli-help.itest.ts',
  'tests/integration/console-no-loss.itest.ts',
];

// Reliability checks run two at a time too (341 → about 190 s, 79 % busy); these assert times
// or deadlines under load they make themselves (a QMP answer within 500 ms under a serial flood,
// the stop ladder's deadlines, a soak's stop deadline), so they run after them, one at a time.
const RELIABILITY_SOLO = ['tests/reliability/10-quit-stop-all.rtest.ts', 'tests/reliability/16-soak.rtest.ts', 'tests/reliability/17-serial-flood.rtest.ts'];

const integration = {
  testTimeout: 180_000,
  hookTimeout: 180_000,
  setupFiles: ['tests/integration/fixtures/worker-env.ts'],
};

const reliability = {
  testTimeout: 600_000,
  hookTimeout: 300_000,
  setupFiles: ['tests/integration/fixtures/worker-env.ts'],
};

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
        },
      },
      {
        test: {
          name: 'integration',
          include: ['electron/**/*.itest.ts', 'tests/integration/**/*.itest.ts'],
          exclude: [...configDefaults.exclude, ...SOLO],
          ...integration,
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'integration-solo',
          include: SOLO,
          ...integration,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'reliability',
          include: ['tests/reliability/**/*.rtest.ts'],
          exclude: [...configDefaults.exclude, ...RELIABILITY_SOLO],
          ...reliability,
          maxWorkers: 2,
          sequence: { groupOrder: 2 },
        },
      },
      {
        test: {
          name: 'reliability-solo',
          include: RELIABILITY_SOLO,
          ...reliability,
          fileParallelism: false,
        },
      },
    ],
  },
});
