// The home folder: which one is used, that it is created with its subfolders, and that each way it
// can be unusable gives a message that names the folder and says what to do.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  defaultHomeDir,
  HOME_SUBFOLDERS,
  HomeError,
  type HomeErrorCode,
  homeErrorFrom,
  homeStatus,
  openHome,
  resolveHome,
} from '../../main/core/home.js';
import { makeImmutable, tempDir } from './store/tmp.js';

function openError(dir: string): HomeError {
  try {
    openHome(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(HomeError);
    return err as HomeError;
  }
  throw new Error('openHome succeeded but should have failed');
}

const errno = (code: string) => Object.assign(new Error(`${code}: failed`), { code });

describe('resolveHome', () => {
  const env = { TUNESMITH_HOME: '/env/home', XDG_DATA_HOME: '/xdg' };
  const linux = { env, platform: 'linux' as const, homedir: '/home/ana' };

  it('prefers --home, then TUNESMITH_HOME, then the platform default', () => {
    expect(resolveHome('/flag/home', linux)).toBe('/flag/home');
    expect(resolveHome(undefined, linux)).toBe('/env/home');
    expect(resolveHome(undefined, { ...linux, env: { XDG_DATA_HOME: '/xdg' } })).toBe('/xdg/tunesmith');
  });

  it('ignores an empty option or variable', () => {
    expect(resolveHome('', linux)).toBe('/env/home');
    expect(resolveHome(undefined, { ...linux, env: { TUNESMITH_HOME: '  ' } })).toBe(
      '/home/ana/.local/share/tunesmith',
    );
  });

  it('makes relative paths absolute and expands ~', () => {
    expect(resolveHome('rel/home', linux)).toBe(resolve('rel/home'));
    expect(resolveHome(undefined, { ...linux, env: { TUNESMITH_HOME: '~/th' } })).toBe('/home/ana/th');
    expect(resolveHome('~', linux)).toBe('/home/ana');
  });

  it('uses the data folder of each platform', () => {
    expect(defaultHomeDir({ platform: 'linux', env: {}, homedir: '/home/ana' })).toBe(
      '/home/ana/.local/share/tunesmith',
    );
    expect(defaultHomeDir({ platform: 'linux', env: { XDG_DATA_HOME: '/data' }, homedir: '/home/ana' })).toBe(
      '/data/tunesmith',
    );
    // The XDG spec says to ignore a relative XDG_DATA_HOME.
    expect(defaultHomeDir({ platform: 'linux', env: { XDG_DATA_HOME: 'data' }, homedir: '/home/ana' })).toBe(
      '/home/ana/.local/share/tunesmith',
    );
    expect(
      defaultHomeDir({
        platform: 'win32',
        env: { APPDATA: 'C:\\Users\\Ana\\AppData\\Roaming' },
        homedir: 'C:\\Users\\Ana',
      }),
    ).toBe('C:\\Users\\Ana\\AppData\\Roaming\\Tunesmith');
    expect(defaultHomeDir({ platform: 'win32', env: {}, homedir: 'C:\\Users\\Ana' })).toBe(
      'C:\\Users\\Ana\\AppData\\Roaming\\Tunesmith',
    );
    expect(defaultHomeDir({ platform: 'darwin', env: {}, homedir: '/Users/ana' })).toBe(
      '/Users/ana/Library/Application Support/Tunesmith',
    );
  });
});

describe('openHome', () => {
  it('creates the folder and its subfolders, and leaves no probe file behind', () => {
    const dir = join(tempDir(), 'deep', 'home');
    const paths = openHome(dir);
    expect(paths.root).toBe(dir);
    expect(paths.database).toBe(join(dir, 'tunesmith.db'));
    for (const name of HOME_SUBFOLDERS) {
      expect(statSync(join(dir, name)).isDirectory()).toBe(true);
      expect(paths[name]).toBe(join(dir, name));
    }
    expect(readdirSync(dir).sort()).toEqual([...HOME_SUBFOLDERS].sort());
  });

  it('opens an existing home again without touching what is in it', () => {
    const dir = tempDir();
    openHome(dir);
    writeFileSync(join(dir, 'runs', 'keep.txt'), 'mine');
    openHome(dir);
    expect(readFileSync(join(dir, 'runs', 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('refuses a home that is a file, and leaves the file alone', () => {
    const file = join(tempDir(), 'home');
    writeFileSync(file, 'not a folder');
    const error = openError(file);
    expect(error.code).toBe('not-a-folder');
    expect(error.message).toBe(
      `Tunesmith cannot write to its home folder ${file}: it is a file, not a folder. ` +
        'Choose another folder with --home or TUNESMITH_HOME.',
    );
    expect(error.hint).toBe('Choose another folder with --home or TUNESMITH_HOME.');
    expect(readFileSync(file, 'utf8')).toBe('not a folder');
  });

  it('refuses a home under a file and names that file', () => {
    const file = join(tempDir(), 'notes.txt');
    writeFileSync(file, '');
    const error = openError(join(file, 'tunesmith'));
    expect(error.code).toBe('parent-not-a-folder');
    expect(error.message).toContain(`${file} is a file, so no folder can be made inside it`);
    expect(error.path).toBe(join(file, 'tunesmith'));
  });

  it('refuses a home whose subfolder is a file and names it', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'runs'), '');
    const error = openError(dir);
    expect(error.code).toBe('not-a-folder');
    expect(error.message).toContain(`${join(dir, 'runs')} is a file, not a folder`);
    expect(error.hint).toMatch(/^Move that file away/);
  });

  it('finds out by writing that a folder refuses writes, even for root', (ctx) => {
    const dir = tempDir();
    openHome(dir);
    if (!makeImmutable(dir)) ctx.skip();
    const error = openError(dir);
    expect(error.code).toBe('permission-denied');
    expect(error.message).toContain(`home folder ${dir}: permission denied`);
  });

  it.each<[string, HomeErrorCode, RegExp]>([
    ['EROFS', 'read-only', /read-only disk.*writable disk/],
    ['ENOSPC', 'disk-full', /the disk is full\. Free some space/],
    ['EACCES', 'permission-denied', /permission denied\. Give your user write access/],
    ['ELOOP', 'cannot-create', /ELOOP: failed\. Choose another folder/],
  ])('turns %s into %s with a message that says what to do', (code, expected, message) => {
    const error = homeErrorFrom(errno(code), '/h', '/h');
    expect(error.code).toBe(expected);
    expect(error.message).toMatch(message);
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      code: expected,
      message: error.message,
      hint: error.hint,
      path: '/h',
    });
  });
});

describe('homeStatus', () => {
  it('describes a home that does not exist yet without creating it', async () => {
    const dir = join(tempDir(), 'later');
    const status = await homeStatus(dir);
    expect(status).toMatchObject({ path: dir, exists: false, writable: true });
    expect(status.freeBytes).toBeGreaterThan(0);
    expect(status.totalBytes).toBeGreaterThanOrEqual(status.freeBytes!);
    expect(status.error).toBeUndefined();
    expect(existsSync(dir)).toBe(false);
  });

  it('describes a working home', async () => {
    const dir = tempDir();
    openHome(dir);
    expect(await homeStatus(dir)).toMatchObject({ exists: true, writable: true });
    expect(readdirSync(dir).sort()).toEqual([...HOME_SUBFOLDERS].sort());
  });

  it('reports a home that is a file, or sits under one, or has a file for a subfolder', async () => {
    const dir = tempDir();
    const file = join(dir, 'file');
    writeFileSync(file, '');
    expect(await homeStatus(file)).toMatchObject({
      exists: true,
      writable: false,
      errorCode: 'not-a-folder',
    });
    const under = await homeStatus(join(file, 'home'));
    expect(under).toMatchObject({ exists: false, writable: false, errorCode: 'parent-not-a-folder' });
    expect(under.error).toContain('no folder can be made inside it');
    const home = join(dir, 'home');
    mkdirSync(home);
    writeFileSync(join(home, 'cache'), '');
    expect(await homeStatus(home)).toMatchObject({
      exists: true,
      writable: false,
      errorCode: 'not-a-folder',
    });
  });
});
