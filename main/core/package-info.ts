// Where the installed package lives (source tree, the `out/node` build, or the packaged app) and
// its version: found by walking up to the package.json named "tunesmith" (native/ has its own
// package.json for cmake-js, which is skipped by its name).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'tunesmith';

/** The folder holding the package.json named "tunesmith", searched upwards from `start`. */
export function findPackageRoot(start: string = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if (JSON.parse(readFileSync(manifest, 'utf8')).name === PACKAGE_NAME) return dir;
      } catch {
        // an unreadable package.json on the way up is not ours; keep climbing
      }
    }
    if (path.dirname(dir) === dir) {
      throw new Error(`no package.json named "${PACKAGE_NAME}" above ${start}`);
    }
  }
}

let cachedRoot: string | undefined;

export function packageRoot(): string {
  cachedRoot ??= findPackageRoot();
  return cachedRoot;
}

export function appVersion(): string {
  const manifest = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}
