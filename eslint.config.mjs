// Lint config. The `layers` rules below are the project's layering law (see ARCHITECTURE.md):
//   shared/            imports neither side (no electron/, renderer/, Node built-ins, electron)
//   renderer/          imports no Node built-in, nothing from electron/, not `electron`
//   electron/engine/   never imports `electron` (plain Node, tested against real QEMU)
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import { builtinModules } from 'node:module';
import globals from 'globals';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

const restrict = (patterns, paths = []) => ({
  'no-restricted-imports': ['error', { paths, patterns }],
});

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'release/**', 'node_modules/**', 'test-results/**', 'playwright-report/**', 'e2e/fixtures/layer-violations/**', '.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: restrict(
      [
        { group: ['**/electron/**', '**/renderer/**', 'electron', 'electron/*'], message: 'shared/ is imported by both sides and must import neither.' },
      ],
      nodeBuiltins.map((name) => ({ name, message: 'shared/ runs in the renderer too: no Node built-ins.' })),
    ),
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.tsx'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      ...restrict(
        [{ group: ['**/electron/**', 'electron', 'electron/*'], message: 'renderer/ talks to main only through the Api interface.' }],
        nodeBuiltins.map((name) => ({ name, message: 'renderer/ runs sandboxed: no Node built-ins.' })),
      ),
    },
  },
  {
    files: ['electron/engine/**/*.ts'],
    rules: restrict([], [{ name: 'electron', message: 'The engine never imports electron: it runs in plain Node (CLI, serve, tests).' }]),
  },
  {
    files: ['bin/**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.test.ts', '**/*.itest.ts', '**/*.test.tsx', 'e2e/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
