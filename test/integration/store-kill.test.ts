// The store across real processes. A trainer's metrics must survive the app being killed: a child
// writes metric bursts through the MetricsWriter and is SIGKILLed mid-burst; afterwards the database
// is intact and holds at least every row the child reported as committed. And the app and the CLI
// may create the same new database at the same moment: both must end up with one migrated schema.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { LATEST_VERSION, openStore } from '../../main/core/store/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HELPER = join(ROOT, 'test', 'helpers', 'metric-burst.ts');
const OPEN_HELPER = join(ROOT, 'test', 'helpers', 'open-store.ts');
const METRICS_PER_STEP = 4;
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Commit {
  rows: number;
  lastStep: number;
}

/** Starts the writer, kills it `delayMs` after it has reported `batchesBeforeKill` commits. */
function runAndKill(dbPath: string, rowsPerBatch: number, batchesBeforeKill: number, delayMs: number) {
  return new Promise<{ commits: Commit[]; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve, reject) => {
      const child: ChildProcess = spawn(
        process.execPath,
        ['--import', 'tsx', HELPER, dbPath, String(rowsPerBatch)],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const commits: Commit[] = [];
      let stderr = '';
      let pending = '';
      let killScheduled = false;
      const watchdog = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the writer never reported ${batchesBeforeKill} commits; stderr:\n${stderr}`));
      }, 60_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.stdout!.on('data', (chunk: Buffer) => {
        pending += chunk.toString();
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const line of lines) {
          const match = /^committed (\d+) (\d+)$/.exec(line);
          if (match) commits.push({ rows: Number(match[1]), lastStep: Number(match[2]) });
        }
        if (!killScheduled && commits.length >= batchesBeforeKill) {
          killScheduled = true;
          setTimeout(() => child.kill('SIGKILL'), delayMs);
        }
      });
      // 'close' waits for stdout to drain, so every line the child wrote before dying is counted.
      child.on('close', (_code, signal) => {
        clearTimeout(watchdog);
        resolve({ commits, signal, stderr });
      });
      child.on('error', reject);
    },
  );
}

describe('metrics survive SIGKILL', () => {
  const cases: [rowsPerBatch: number, delayMs: number][] = [
    [200, 0],
    [200, 7],
    [2000, 3],
    [2000, 23],
    [400, 61],
  ];

  it.each(cases)('batches of %i rows, killed %i ms after the fifth commit', async (rowsPerBatch, delayMs) => {
    const dir = mkdtempSync(join(tmpdir(), 'tunesmith-kill-'));
    dirs.push(dir);
    const dbPath = join(dir, 'tunesmith.db');
    const { commits, signal, stderr } = await runAndKill(dbPath, rowsPerBatch, 5, delayMs);
    expect(signal, stderr).toBe('SIGKILL');
    expect(commits.length).toBeGreaterThanOrEqual(5);
    const last = commits.at(-1)!;

    // Opened as the app would after a crash: SQLite replays the write-ahead log.
    const db = new Database(dbPath);
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.pragma('foreign_key_check')).toEqual([]);
      const rows = db.prepare('SELECT count(*) FROM metrics').pluck().get() as number;
      expect(rows).toBeGreaterThanOrEqual(last.rows);
      // Every step the child reported is there, with all its metrics.
      const reported = db
        .prepare('SELECT count(*) AS rows, count(DISTINCT step) AS steps FROM metrics WHERE step <= ?')
        .get(last.lastStep);
      expect(reported).toEqual({ rows: (last.lastStep + 1) * METRICS_PER_STEP, steps: last.lastStep + 1 });
    } finally {
      db.close();
    }

    const store = openStore(dbPath);
    expect(store.metrics.series(1, 'loss').length).toBeGreaterThanOrEqual(last.lastStep + 1);
    expect(store.runs.get(1)?.status).toBe('running');
    store.close();
  });
});

function openInChild(dbPath: string) {
  return new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', OPEN_HELPER, dbPath], { cwd: ROOT });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on('close', (code) => resolve({ code, out }));
    child.on('error', reject);
  });
}

describe('first open from several processes at once', () => {
  // Without the version re-read under the write lock (migrate.ts), some tries failed here with
  // 'migration-failed' (table models already exists). It is a race: a regression is caught often,
  // not every time.
  it.each([1, 2, 3])('every process opens the new database (try %i)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunesmith-race-'));
    dirs.push(dir);
    const dbPath = join(dir, 'tunesmith.db');
    const results = await Promise.all([openInChild(dbPath), openInChild(dbPath), openInChild(dbPath)]);
    for (const { code, out } of results) {
      expect({ code, out: out.trim() }).toEqual({ code: 0, out: `opened ${LATEST_VERSION}` });
    }
  });
});
