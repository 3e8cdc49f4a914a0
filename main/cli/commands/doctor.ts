// `tunesmith doctor [--json]`: is this machine ready to fine-tune, and if not, why.
import type { DoctorReport } from '../../api/contract.js';
import { buildDoctorReport } from '../../core/doctor.js';
import { resolveHome } from '../../core/home.js';
import { parseCommandArgs } from '../args.js';
import type { CliCommand } from '../types.js';

export const doctorCommand: CliCommand = {
  name: 'doctor',
  summary: 'check versions, the training engine, the GPU, the home folder and the database',
  usage: [
    'Usage: tunesmith doctor [--json] [--home DIR]',
    '',
    'Checks that Tunesmith can train here and says what to fix if not.',
    'Exit code 0 when ready (a GPU is not required), 1 when something must be fixed.',
    '',
    '  --json       print the report as JSON',
    '  --home DIR   the home folder to check',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, { json: { type: 'boolean' } }, 'doctor');
    const report = await buildDoctorReport({ homeDir: resolveHome(values.home) });
    io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return report.ok ? 0 : 1;
  },
};

const GiB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GiB).toFixed(1)} GiB`;

export function formatReport(report: DoctorReport): string {
  const { app, engine, home, database } = report;
  const lines = [
    `Tunesmith ${app.version} · Node ${app.node}${app.electron ? ` · Electron ${app.electron}` : ''}` +
      `${app.sqlite ? ` · SQLite ${app.sqlite}` : ''} · ${app.platform}-${app.arch}`,
    '',
    'Engine',
  ];
  if (engine.loadError) {
    lines.push(`  not loaded: ${engine.loadError}`);
  } else {
    lines.push(
      `  backends: ${engine.backends.join(', ')}   (CUDA compiled in: ${engine.cudaCompiled ? 'yes' : 'no'})`,
    );
    for (const d of engine.devices) {
      lines.push(
        `  GPU ${d.index}: ${d.name}, ${gib(d.totalMemoryBytes)} (${gib(d.freeMemoryBytes)} free), compute ${d.computeCapability}`,
      );
    }
    if (engine.devices.length === 0) {
      lines.push(`  no NVIDIA GPU: ${engine.error ?? 'none found'} — training will use the CPU and be slow.`);
    }
  }
  lines.push('', 'Home folder', `  ${home.path}`);
  if (home.error) lines.push(`  problem: ${home.error}`);
  else
    lines.push(
      `  ${home.exists ? 'writable' : 'will be created'}${home.freeBytes !== undefined ? `, ${gib(home.freeBytes)} free` : ''}`,
    );
  lines.push('', 'Database', `  ${database.path}`);
  if (database.error) {
    lines.push(`  problem: ${database.error.message}`);
  } else if (!database.schemaVersion) {
    lines.push('  not created yet (it is created on first use)');
  } else {
    const counts = Object.entries(database.counts ?? {})
      .map(([table, n]) => `${n} ${table}`)
      .join(', ');
    lines.push(
      `  schema ${database.schemaVersion}${database.latestVersion !== database.schemaVersion ? ` (this version upgrades it to ${database.latestVersion})` : ''}; ${counts}`,
    );
  }
  lines.push('', report.ok ? 'Ready.' : `Not ready:\n${report.problems.map((p) => `  - ${p}`).join('\n')}`);
  return lines.join('\n');
}
