// Window position and size, remembered across starts in the home folder. Pure apart from the file
// read and write, so it is tested without Electron. A saved position that no longer fits on any
// display (a monitor was unplugged) is dropped rather than opening an invisible window.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface WindowState {
  bounds: Rect;
  maximized: boolean;
}

export const DEFAULT_SIZE = { width: 1200, height: 800 };
export const MIN_SIZE = { width: 720, height: 500 };

export function loadWindowState(file: string): WindowState | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<WindowState>;
    const b = parsed.bounds;
    if (!b || ![b.x, b.y, b.width, b.height].every((n) => Number.isFinite(n))) return undefined;
    return {
      bounds: { x: b.x, y: b.y, width: b.width, height: b.height },
      maximized: parsed.maximized === true,
    };
  } catch {
    return undefined;
  }
}

export function saveWindowState(file: string, state: WindowState): void {
  const temp = `${file}.tmp`;
  writeFileSync(temp, `${JSON.stringify(state)}\n`);
  renameSync(temp, file);
}

/**
 * The bounds to open with: the saved ones when at least a 100×50 px corner of the window (enough to
 * grab its title bar) is on one of the displays' work areas, else the default size, centred by Electron.
 */
export function initialBounds(
  saved: WindowState | undefined,
  workAreas: Rect[],
): Partial<Rect> & typeof DEFAULT_SIZE {
  if (!saved) return { ...DEFAULT_SIZE };
  const width = Math.max(saved.bounds.width, MIN_SIZE.width);
  const height = Math.max(saved.bounds.height, MIN_SIZE.height);
  const visible = workAreas.some((area) => overlap(saved.bounds, area) >= 100 * 50);
  return visible ? { x: saved.bounds.x, y: saved.bounds.y, width, height } : { width, height };
}

function overlap(a: Rect, b: Rect): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}
