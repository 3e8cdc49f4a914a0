// `tunesmith models list [--json]`: the models on this machine (downloaded and added, with size and
// fit) and the recommended ones to download, each marked with whether it fits this machine.
import { resolveHome } from '../../../core/home.js';
import type { MachineResources } from '../../../core/models/catalogue.js';
import type { CatalogueItem, LibraryModel } from '../../../core/models/library.js';
import { openCoreServices } from '../../../core/services.js';
import { parseCommandArgs, UsageError } from '../../args.js';
import type { CliCommand } from '../../types.js';
import { formatCount } from './inspect.js';

const NAME = 'models list';

export const listCommand: CliCommand = {
  name: 'list',
  summary: 'the models on this machine and the recommended ones, with fit for this machine',
  usage: [
    `Usage: tunesmith ${NAME} [--json]`,
    '',
    'Lists the models in the library (downloaded with `models download` or added with `models add`),',
    'then the recommended base models with the memory QLoRA training needs at 2k and 4k tokens and',
    "whether that fits this machine's GPU (or, without one, its memory for slow CPU training).",
    '',
    '  --json   print {machine, models, catalogue} as JSON',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, NAME);
    if (positionals.length > 0) throw new UsageError(`Unexpected argument "${positionals[0]}".`);
    const services = openCoreServices(resolveHome(values.home));
    try {
      const library = services.models;
      const machine = library.machine();
      const models = await library.list();
      const catalogue = library.catalogue();
      if (values.json) {
        io.out(JSON.stringify({ machine, models, catalogue }, null, 2));
        return 0;
      }
      io.out(formatLibrary(machine, models, catalogue));
      return 0;
    } finally {
      services.close();
    }
  },
};

export function formatLibrary(
  machine: MachineResources,
  models: LibraryModel[],
  catalogue: CatalogueItem[],
): string {
  const lines: string[] = [];
  if (models.length === 0) {
    lines.push('No models on this machine yet.');
  } else {
    lines.push('Models on this machine:', '   ID  STATUS      SIZE        PARAMS  FIT          NAME');
    for (const m of models) {
      const fit = m.fit
        ? m.fit.fits
          ? `fits (${m.fit.device === 'cuda' ? 'GPU' : 'CPU'})`
          : 'too big'
        : '-';
      lines.push(
        `${String(m.id).padStart(5)}  ${m.status.padEnd(10)}  ${formatBytes(m.sizeBytes).padStart(9)}  ${(m.params ? formatCount(m.params) : '-').padStart(8)}  ${fit.padEnd(11)}  ${m.name}`,
        `       ${m.path}`,
      );
      if (m.note) lines.push(`       ${m.note}`);
      else if (m.fit) lines.push(`       ${m.fit.verdict}`);
    }
  }
  lines.push('', `Recommended base models — ${describeMachine(machine)}:`);
  const width = Math.max(...catalogue.map((c) => c.repoId.length));
  lines.push(`  ${'MODEL'.padEnd(width)}    PARAMS   DOWNLOAD  QLORA 2K / 4K         LICENCE        FITS`);
  for (const c of catalogue) {
    const [short, long] = c.fit.memory;
    const memory = `${formatGib(short?.bytes ?? 0)} / ${formatGib(long?.bytes ?? 0)}`;
    const fits = c.fit.fits ? (long?.fits ? 'yes' : '2k only') : 'no';
    const tags = [
      c.gated ? 'gated' : '',
      c.reference ? 'reference recipe' : '',
      c.local ? `in library: ${c.local.status}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(
      `  ${c.repoId.padEnd(width)}  ${formatCount(c.parameterCount).padStart(8)}  ~${formatBytes(c.downloadBytes).padStart(8)}  ${memory.padEnd(20)}  ${c.licence.padEnd(13)}  ${fits}${tags ? `  (${tags})` : ''}`,
    );
  }
  lines.push(
    '',
    machine.gpu
      ? 'Memory is for QLoRA on the GPU (NF4, LoRA r 16 on all projections, batch 1, checkpointing).'
      : 'Memory is for QLoRA on the CPU (f32 activations); without a GPU training works but is slow.',
    'Download one with: tunesmith models download REPO_ID   (gated models need an access token: --token-env VAR or HF_TOKEN)',
  );
  return lines.join('\n');
}

export function describeMachine(machine: MachineResources): string {
  return machine.gpu
    ? `fit for ${machine.gpu.name} with ${formatGib(machine.gpu.freeBytes)} free`
    : `no usable GPU: fit for CPU training with ${formatGib(machine.ramFreeBytes)} of free memory`;
}

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

export function formatGib(n: number): string {
  return `${(n / 1024 ** 3).toFixed(1)} GiB`;
}
