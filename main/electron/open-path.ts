// system.openPath in the desktop app: show a folder or file the app made in the system's file manager.
// The renderer names the path, so it is checked: only the home folder and the export folders and files
// Tunesmith wrote, after symbolic links are resolved. And nothing is ever launched: a folder opens in the
// file manager, a file is only revealed in its folder (opening a file would run it if it were a program).
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';

export type OpenPathPlan =
  | { action: 'open-folder'; path: string }
  | { action: 'reveal-file'; path: string }
  | { action: 'refuse'; reason: string };

export type PathKind = 'file' | 'directory' | 'missing';

/** `child` is `root` or inside it (Windows paths compare without case). */
export function isInside(child: string, root: string, platform: NodeJS.Platform = process.platform): boolean {
  const p = platform === 'win32' ? path.win32 : path.posix;
  const norm = (s: string) => (platform === 'win32' ? p.resolve(s).toLowerCase() : p.resolve(s));
  const relative = p.relative(norm(root), norm(child));
  const up = relative === '..' || relative.startsWith(`..${p.sep}`);
  return relative === '' || (!up && !p.isAbsolute(relative));
}

/** What to do with a request; `target` and `roots` are already resolved (no symbolic links). */
export function planOpenPath(
  target: string,
  kind: PathKind,
  roots: string[],
  platform: NodeJS.Platform = process.platform,
): OpenPathPlan {
  if (kind === 'missing') return { action: 'refuse', reason: 'it does not exist' };
  if (!roots.some((root) => isInside(target, root, platform))) {
    return { action: 'refuse', reason: 'it is outside the home folder and the exports Tunesmith made' };
  }
  return kind === 'directory'
    ? { action: 'open-folder', path: target }
    : { action: 'reveal-file', path: target };
}

export interface ShellLike {
  /** Electron's shell.openPath: resolves to '' on success, else an error message. */
  openPath(path: string): Promise<string>;
  showItemInFolder(path: string): void;
}

export interface OpenPathOptions {
  shell: ShellLike;
  /** Allowed places, asked at each call (exports are added while the app runs). */
  roots: () => string[];
  /** Why a request was refused or failed (the app's log). */
  onRefused?: (target: string, reason: string) => void;
}

function resolved(p: string): { path: string; kind: PathKind } {
  try {
    const real = realpathSync(p);
    return { path: real, kind: statSync(real).isDirectory() ? 'directory' : 'file' };
  } catch {
    return { path: path.resolve(p), kind: 'missing' };
  }
}

/** The `openPath` HandlerDeps takes: true when the file manager was asked to show the path. */
export function createOpenPath(options: OpenPathOptions): (target: string) => Promise<boolean> {
  const { shell, roots, onRefused } = options;
  return async (target) => {
    const { path: real, kind } = resolved(target);
    const allowed = roots()
      .map(resolved)
      .filter((r) => r.kind !== 'missing')
      .map((r) => r.path);
    const plan = planOpenPath(real, kind, allowed);
    switch (plan.action) {
      case 'refuse':
        onRefused?.(target, plan.reason);
        return false;
      case 'reveal-file':
        shell.showItemInFolder(plan.path);
        return true;
      case 'open-folder': {
        const error = await shell.openPath(plan.path);
        if (error) onRefused?.(target, error);
        return error === '';
      }
    }
  };
}
