// Temporary folders and files for store tests, removed when the test finishes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tunesmith-test-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function tempDbPath(): string {
  return join(tempDir(), 'tunesmith.db');
}

export function bytesOf(path: string): Buffer {
  return readFileSync(path);
}

/**
 * Makes `path` immutable (chattr +i), which stops writes even for root, where permission bits do
 * not. Returns false where that is impossible (no chattr, no CAP_LINUX_IMMUTABLE, tmpfs); the caller
 * skips then.
 */
export function makeImmutable(path: string): boolean {
  try {
    execFileSync('chattr', ['+i', path], { stdio: 'ignore' });
  } catch {
    return false;
  }
  onTestFinished(() => {
    execFileSync('chattr', ['-i', path], { stdio: 'ignore' });
  });
  return true;
}
