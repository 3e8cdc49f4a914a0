import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SIZE,
  initialBounds,
  loadWindowState,
  MIN_SIZE,
  saveWindowState,
} from '../../../main/electron/window-state.js';
import { tempDir } from '../../helpers/cli.js';

const screen = [{ x: 0, y: 0, width: 1920, height: 1080 }];

describe('window state', () => {
  it('round-trips through its file', () => {
    const file = join(tempDir(), 'window-state.json');
    saveWindowState(file, { bounds: { x: 10, y: 20, width: 1000, height: 700 }, maximized: true });
    expect(loadWindowState(file)).toEqual({
      bounds: { x: 10, y: 20, width: 1000, height: 700 },
      maximized: true,
    });
    expect(JSON.parse(readFileSync(file, 'utf8')).maximized).toBe(true);
  });

  it('ignores a missing, damaged or incomplete file', () => {
    const dir = tempDir();
    expect(loadWindowState(join(dir, 'none.json'))).toBeUndefined();
    writeFileSync(join(dir, 'bad.json'), '{"bounds": {"x": 1');
    expect(loadWindowState(join(dir, 'bad.json'))).toBeUndefined();
    writeFileSync(join(dir, 'nan.json'), '{"bounds": {"x": null, "y": 0, "width": 5, "height": 5}}');
    expect(loadWindowState(join(dir, 'nan.json'))).toBeUndefined();
  });

  it('opens at the default size the first time', () => {
    expect(initialBounds(undefined, screen)).toEqual(DEFAULT_SIZE);
  });

  it('restores a position that is on a display', () => {
    const saved = { bounds: { x: 100, y: 100, width: 1000, height: 700 }, maximized: false };
    expect(initialBounds(saved, screen)).toEqual({ x: 100, y: 100, width: 1000, height: 700 });
  });

  it('drops a position on a display that is gone, keeping the size', () => {
    const saved = { bounds: { x: 2500, y: 100, width: 1000, height: 700 }, maximized: false };
    expect(initialBounds(saved, screen)).toEqual({ width: 1000, height: 700 });
  });

  it('never opens smaller than the minimum size', () => {
    const saved = { bounds: { x: 0, y: 0, width: 100, height: 100 }, maximized: false };
    expect(initialBounds(saved, screen)).toMatchObject(MIN_SIZE);
  });
});
