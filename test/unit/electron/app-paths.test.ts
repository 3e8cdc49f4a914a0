// The files the desktop app starts from its main bundle: the trainer entry must be a real output of
// the main build (electron.vite.config.ts) at the path the app computes, and be packaged.
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appFiles, TRAINER_BUNDLE_NAME } from '../../../main/electron/app-paths.js';
import { REPO_ROOT } from '../../helpers/cli.js';

interface MainBuild {
  outDir: string;
  rollupOptions: { input: Record<string, string> };
}

describe('app paths', () => {
  it('finds the renderer, the preload and the trainer beside the main bundle, in or out of app.asar', () => {
    const mainDir = join('/opt/Tunesmith/resources/app.asar', 'out', 'main');
    const files = appFiles(mainDir);
    expect(files.renderer).toBe(join('/opt/Tunesmith/resources/app.asar/out/renderer/index.html'));
    expect(files.preload).toBe(join('/opt/Tunesmith/resources/app.asar/out/preload/index.cjs'));
    expect(files.trainer).toEqual({ file: join(mainDir, 'trainer.js'), execArgv: [] });
  });

  it('the trainer is an input of the main build, written where the app looks for it', async () => {
    const config = (await import('../../../electron.vite.config.js')).default as unknown as {
      main: { build: MainBuild };
    };
    const build = config.main.build;
    expect(build.rollupOptions.input[TRAINER_BUNDLE_NAME]).toBe(resolve(REPO_ROOT, 'main/trainer/index.ts'));
    expect(build.rollupOptions.input.index).toBe(resolve(REPO_ROOT, 'main/index.ts'));
    const outMain = join(REPO_ROOT, build.outDir);
    expect(appFiles(outMain).trainer.file).toBe(join(outMain, `${TRAINER_BUNDLE_NAME}.js`));
  });
});
