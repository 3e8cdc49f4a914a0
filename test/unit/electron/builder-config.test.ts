// electron-builder.yml is checked against electron-builder's own schema, and against what the app
// needs at run time (the native addon unpacked, the bundles included, per-user Windows install).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../helpers/cli.js';

const require = createRequire(import.meta.url);
const config = load(readFileSync(join(REPO_ROOT, 'electron-builder.yml'), 'utf8')) as Record<
  string,
  unknown
> & {
  files: string[];
  asarUnpack: string[];
  nsis: Record<string, unknown>;
  linux: { target: { target: string }[] };
  win: { target: { target: string }[] };
  extraMetadata: { main: string };
};

/** electron-builder's globs as far as this file uses them: `**` any depth, `*` within one folder. */
function globMatches(glob: string, file: string): boolean {
  const wildcard: Record<string, string> = { '**/': '(?:.*/)?', '**': '.*', '*': '[^/]*' };
  const pattern = glob
    .split(/(\*\*\/?|\*)/)
    .map((part) => wildcard[part] ?? part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('');
  return new RegExp(`^${pattern}$`).test(file);
}

describe('electron-builder.yml', () => {
  it('passes electron-builder’s schema validation', async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
      validateConfiguration(config: unknown, logger: { isEnabled: boolean; add(): void }): Promise<void>;
    };
    await expect(validateConfiguration(config, { isEnabled: false, add: () => {} })).resolves.toBeUndefined();
  });

  it('rejects a misspelt option (the validation is real)', async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
      validateConfiguration(config: unknown, logger: { isEnabled: boolean; add(): void }): Promise<void>;
    };
    await expect(
      validateConfiguration(
        { ...config, nsis: { ...config.nsis, perMachiine: false } },
        { isEnabled: false, add: () => {} },
      ),
    ).rejects.toThrow(/configuration.nsis/);
  });

  it('builds NSIS per user without admin rights, and AppImage + deb', () => {
    expect(config.win.target.map((t) => t.target)).toEqual(['nsis']);
    expect(config.nsis).toMatchObject({ perMachine: false, allowElevation: false });
    expect(config.linux.target.map((t) => t.target).sort()).toEqual(['AppImage', 'deb']);
  });

  it('ships the bundles and the engine, and unpacks native code from the archive', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(config.extraMetadata.main).toBe(pkg.main);
    for (const path of [
      'out/main/**',
      'out/preload/**',
      'out/renderer/**',
      'native/build/Release/tunesmith_native.node',
    ]) {
      expect(config.files).toContain(path);
    }
    expect(config.asarUnpack).toContain('native/build/Release/*.node');
    expect(config.asarUnpack.some((p) => p.startsWith('node_modules/better-sqlite3'))).toBe(true);
  });

  it('packs the trainer bundle and the tray icon, and unpacks exactly the native files', () => {
    const packed = (file: string) =>
      config.files.some((glob) => !glob.startsWith('!') && globMatches(glob, file)) &&
      !config.files.some((glob) => glob.startsWith('!') && globMatches(glob.slice(1), file));
    const unpacked = (file: string) => config.asarUnpack.some((glob) => globMatches(glob, file));
    // main/electron/app-paths.ts: the app starts out/main/trainer.js in a utility process.
    expect(packed('out/main/trainer.js')).toBe(true);
    expect(packed('out/main/chunks/service-abc123.js')).toBe(true);
    expect(packed('resources/icons/32x32.png')).toBe(true);
    expect(unpacked('native/build/Release/tunesmith_native.node')).toBe(true);
    expect(unpacked('node_modules/better-sqlite3/build/Release/better_sqlite3.node')).toBe(true);
    expect(unpacked('out/main/trainer.js')).toBe(false);
    expect(packed('out/main/trainer.js.map')).toBe(false);
  });

  it('names icons that exist', () => {
    const icon = join(REPO_ROOT, (config.win as unknown as { icon: string }).icon);
    expect(readFileSync(icon).subarray(1, 4).toString()).toBe('PNG');
    expect(readFileSync(join(REPO_ROOT, 'resources/icons/512x512.png')).readUInt32BE(16)).toBe(512);
  });
});
