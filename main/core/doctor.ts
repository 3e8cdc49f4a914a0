// The `doctor` report: versions, the native engine's probe, the home folder and the database.
// Never throws: every failure becomes a finding in plain words.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { DatabaseReport, DoctorReport, EngineReport, HomeReport } from '../api/contract.js';
import { probeNative } from './engine/native.js';
import { DATABASE_FILE, homeStatus } from './home.js';
import { appVersion } from './package-info.js';
import { openStore, type Store } from './store/index.js';

export interface DoctorInput {
  homeDir: string;
  /** An already open store (server, app); otherwise the database is opened read-only-ish for a look. */
  store?: Store;
}

/** Below this, a 7B fine-tune (model download, checkpoints, GGUF exports) will not fit. */
export const LOW_DISK_BYTES = 30 * 1024 ** 3;

export async function buildDoctorReport({ homeDir, store }: DoctorInput): Promise<DoctorReport> {
  const engine = engineReport();
  const home = await homeReport(homeDir);
  const database = databaseReport(join(homeDir, DATABASE_FILE), store);
  const problems: string[] = [];
  if (engine.loadError) problems.push(engine.loadError);
  if (home.error) problems.push(home.error);
  if (database.error) problems.push(database.error.message);
  if (home.freeBytes !== undefined && home.freeBytes < LOW_DISK_BYTES) {
    problems.push(
      `Only ${(home.freeBytes / 1024 ** 3).toFixed(1)} GB free on the disk of the home folder. A 7B model, ` +
        'its checkpoints and exports need about 30 GB: free some space or choose another folder with --home.',
    );
  }
  if (!engine.loadError && !engine.backends.includes('cuda') && engine.error) {
    problems.push(`No usable NVIDIA GPU: ${engine.error}. Training will use the CPU and be slow.`);
  }
  return {
    app: {
      version: appVersion(),
      node: process.versions.node,
      ...(process.versions.electron ? { electron: process.versions.electron } : {}),
      ...sqliteVersion(),
      platform: process.platform,
      arch: process.arch,
    },
    engine,
    home,
    database,
    ok: !engine.loadError && !home.error && database.ok,
    problems,
  };
}

function engineReport(): EngineReport {
  const probe = probeNative();
  const report: EngineReport = {
    backends: probe.backends,
    cudaCompiled: probe.cudaCompiled,
    devices: probe.devices,
  };
  if (probe.cudaRuntimeVersion !== undefined) report.cudaRuntimeVersion = probe.cudaRuntimeVersion;
  if (probe.driverVersion !== undefined) report.driverVersion = probe.driverVersion;
  if (probe.error) report.error = probe.error;
  if (probe.errorKind) report.errorKind = probe.errorKind;
  if (probe.loadError) report.loadError = probe.loadError;
  return report;
}

async function homeReport(homeDir: string): Promise<HomeReport> {
  const status = await homeStatus(homeDir);
  const report: HomeReport = { path: homeDir, exists: status.exists, writable: status.writable };
  if (status.freeBytes !== undefined) report.freeBytes = status.freeBytes;
  if (status.error) report.error = status.error;
  return report;
}

function databaseReport(path: string, open: Store | undefined): DatabaseReport {
  if (!open && !existsSync(path)) {
    return { path, ok: true, schemaVersion: 0, counts: {} };
  }
  let store: Store | undefined = open;
  try {
    store ??= openStore(path, { readonly: true });
    const status = store.status();
    return {
      path,
      ok: true,
      schemaVersion: status.schemaVersion,
      latestVersion: status.latestVersion,
      sizeBytes: status.sizeBytes,
      counts: status.counts,
    };
  } catch (err) {
    const { code, message, hint } = err as { code?: string; message?: string; hint?: string };
    const error: NonNullable<DatabaseReport['error']> = {
      code: code ?? 'internal',
      message: message ?? String(err),
    };
    if (hint) error.hint = hint;
    return { path, ok: false, error };
  } finally {
    if (!open) store?.close();
  }
}

function sqliteVersion(): { sqlite?: string } {
  try {
    const require = createRequire(import.meta.url);
    const Database = require('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(':memory:');
    const { version } = db.prepare('select sqlite_version() as version').get() as { version: string };
    db.close();
    return { sqlite: version };
  } catch {
    return {};
  }
}
