import { resolve } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'electron-vite';

// main/index.ts and main/preload are the Electron entry points; the renderer is the same Svelte app
// that `tunesmith serve` hands to a browser (out/renderer).
export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      // The trainer is its own entry: the app starts it in a utility process (main/electron/app-paths.ts).
      rollupOptions: {
        input: { index: resolve('main/index.ts'), trainer: resolve('main/trainer/index.ts') },
        // llama.cpp verification of exports is a developer tool (a devDependency, loaded on demand):
        // never bundled, and absent from installers, where exports say they were not verified.
        external: ['node-llama-cpp'],
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      // A sandboxed preload cannot be an ES module.
      rollupOptions: {
        input: { index: resolve('main/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: 'renderer',
    base: './',
    plugins: [svelte({ configFile: resolve('svelte.config.js') })],
    build: {
      outDir: 'out/renderer',
      emptyOutDir: true,
      rollupOptions: { input: { index: resolve('renderer/index.html') } },
    },
  },
});
