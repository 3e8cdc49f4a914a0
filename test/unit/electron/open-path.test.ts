// system.openPath in the app: only the home folder and exports, links resolved; folders open, files
// are only revealed (never run).
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createOpenPath, isInside, planOpenPath } from '../../../main/electron/open-path.js';
import { tempDir } from '../store/tmp.js';

function setup() {
  const root = tempDir();
  const home = join(root, 'home');
  const exportDir = join(root, 'elsewhere', 'my-model-ollama');
  const outside = join(root, 'secret');
  for (const dir of [join(home, 'runs', '1'), exportDir, outside]) mkdirSync(dir, { recursive: true });
  writeFileSync(join(home, 'runs', '1', 'train.log'), 'x');
  writeFileSync(join(outside, 'evil.sh'), '#!/bin/sh\n');
  symlinkSync(outside, join(home, 'link-out'));
  const calls: string[] = [];
  const refused: string[] = [];
  const openPath = createOpenPath({
    shell: {
      openPath: async (p) => {
        calls.push(`open ${p}`);
        return '';
      },
      showItemInFolder: (p) => calls.push(`reveal ${p}`),
    },
    roots: () => [home, exportDir, join(root, 'deleted-export')],
    onRefused: (t, reason) => refused.push(`${t}: ${reason}`),
  });
  return { root, home, exportDir, outside, calls, refused, openPath };
}

describe('openPath', () => {
  it('opens folders inside the home folder or an export in the file manager', async () => {
    const { home, exportDir, calls, openPath } = setup();
    expect(await openPath(join(home, 'runs', '1'))).toBe(true);
    expect(await openPath(exportDir)).toBe(true);
    expect(calls).toEqual([`open ${join(home, 'runs', '1')}`, `open ${exportDir}`]);
  });

  it('reveals a file in its folder instead of opening (running) it', async () => {
    const { home, calls, openPath } = setup();
    expect(await openPath(join(home, 'runs', '1', 'train.log'))).toBe(true);
    expect(calls).toEqual([`reveal ${join(home, 'runs', '1', 'train.log')}`]);
  });

  it('refuses paths outside, ../ tricks, links that lead out, and missing paths', async () => {
    const { home, outside, calls, refused, openPath } = setup();
    expect(await openPath(outside)).toBe(false);
    expect(await openPath(join(home, '..', 'secret', 'evil.sh'))).toBe(false);
    expect(await openPath(join(home, 'link-out', 'evil.sh'))).toBe(false);
    expect(await openPath(join(home, 'nope'))).toBe(false);
    expect(calls).toEqual([]);
    expect(refused).toHaveLength(4);
    expect(refused[3]).toMatch(/does not exist/);
  });

  it('reports a file manager that failed', async () => {
    const root = tempDir();
    const openPath = createOpenPath({
      shell: { openPath: async () => 'no handler', showItemInFolder: () => {} },
      roots: () => [root],
    });
    expect(await openPath(root)).toBe(false);
  });

  it('compares containment per platform', () => {
    expect(isInside('/a/b/c', '/a/b', 'linux')).toBe(true);
    expect(isInside('/a/b', '/a/b', 'linux')).toBe(true);
    expect(isInside('/a/bc', '/a/b', 'linux')).toBe(false);
    expect(isInside('/a/b/..foo', '/a/b', 'linux')).toBe(true);
    expect(
      isInside('C:\\Users\\Ada\\AppData\\Tunesmith\\runs', 'c:\\users\\ada\\appdata\\tunesmith', 'win32'),
    ).toBe(true);
    expect(isInside('D:\\Tunesmith', 'C:\\Tunesmith', 'win32')).toBe(false);
    expect(planOpenPath('/x', 'directory', [], 'linux')).toMatchObject({ action: 'refuse' });
  });
});
