import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

// The renderer is served from file:// (Electron) or by `flotilla serve`, so assets use relative URLs.
export default defineConfig({
  root: fileURLToPath(new URL('./renderer', import.meta.url)),
  base: './',
  plugins: [react()],
  resolve: {
    alias: {
      // @xterm/headless 6.0.0's package.json names a "module" file it does not ship
      // (lib/xterm.mjs); its ES module is lib-headless/xterm-headless.mjs. Types still come from the package.
      '@xterm/headless': fileURLToPath(new URL('./node_modules/@xterm/headless/lib-headless/xterm-headless.mjs', import.meta.url)),
    },
  },
  build: {
    outDir: fileURLToPath(new URL('./dist/renderer', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 2000,
  },
});
