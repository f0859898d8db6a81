import { defineConfig } from 'vitest/config';

// unit: fast, no QEMU. integration: real QEMU under TCG, real sockets. reliability: issue 6's suite.
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['shared/**/*.test.ts', 'electron/**/*.test.ts', 'renderer/**/*.test.ts', 'renderer/**/*.test.tsx', 'scripts/**/*.test.ts', 'tests/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['electron/**/*.itest.ts', 'tests/integration/**/*.itest.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // real VMs compete for 2 cores: run files one at a time
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'reliability',
          include: ['tests/reliability/**/*.rtest.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
