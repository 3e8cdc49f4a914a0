// Where the desktop app's files are, relative to the main bundle. electron-vite writes the main
// process to out/main/index.js and the trainer entry beside it (out/main/trainer.js: a second input of
// the main build, see electron.vite.config.ts), the preload to out/preload and the renderer to
// out/renderer. A packaged app has the same layout inside app.asar; the trainer runs from there (the
// utility process reads the archive), only the native addon is unpacked (electron-builder.yml).
import path from 'node:path';
import type { TrainerEntry } from '../core/runs/launcher.js';

/** The name of the trainer bundle in electron-vite's main output (the key of its rollup input). */
export const TRAINER_BUNDLE_NAME = 'trainer';

export interface AppFiles {
  renderer: string;
  preload: string;
  trainer: TrainerEntry;
}

/** `mainDir`: the folder of the running main bundle (import.meta.dirname in main/index.ts). */
export function appFiles(mainDir: string): AppFiles {
  return {
    renderer: path.join(mainDir, '..', 'renderer', 'index.html'),
    preload: path.join(mainDir, '..', 'preload', 'index.cjs'),
    trainer: { file: path.join(mainDir, `${TRAINER_BUNDLE_NAME}.js`), execArgv: [] },
  };
}
