// `tunesmith models inspect DIR [--json]`: what a model folder is and whether the engine can load it.
import { inspectModelFolder, type ModelInspection } from '../../../core/models/inspect.js';
import { onePositional, parseCommandArgs } from '../../args.js';
import type { CliCommand } from '../../types.js';

const NAME = 'models inspect';

export const inspectCommand: CliCommand = {
  name: 'inspect',
  summary: 'check a Hugging Face model folder: architecture, size, tokenizer, memory needed',
  usage: [
    `Usage: tunesmith ${NAME} DIR [--json]`,
    '',
    'Reads config.json, the safetensors headers (not the weights), the index of a sharded model and the',
    'tokenizer files, checks that they agree, and estimates the memory QLoRA training needs.',
    'Exit code 0 when the engine can load the folder, 1 when something must be fixed.',
    '',
    '  --json   print the report as JSON',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, NAME);
    const dir = onePositional(positionals, 'model folder', NAME);
    const report = await inspectModelFolder(dir);
    io.out(values.json ? JSON.stringify(report, null, 2) : formatInspection(report));
    return report.ok ? 0 : 1;
  },
};

/** 494032768 → "0.5 B", 9781120 → "9.8 M". */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}

function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} bytes`;
}

export function formatInspection(r: ModelInspection): string {
  const lines = [r.dir];
  const c = r.config;
  if (c) {
    lines.push(
      `  architecture   ${c.architecture}${c.className ? ` (${c.className})` : ''}: ${c.numLayers} layers, hidden ${c.hiddenSize}, ` +
        `${c.numHeads} heads / ${c.numKvHeads} KV heads, head size ${c.headDim}, FFN ${c.intermediateSize}, vocab ${c.vocabSize}` +
        `${c.tieWordEmbeddings ? ', tied embeddings' : ''}`,
      `  parameters     ${formatCount(r.parameterCount ?? 0)}`,
    );
  } else {
    lines.push('  architecture   unknown (config.json unreadable)');
  }
  lines.push(
    `  dtype          ${r.dtype ?? 'unknown'}${c?.torchDtype ? ` (config: ${c.torchDtype})` : ''}`,
    `  size on disk   ${formatBytes(r.sizeBytes)} in ${r.files.length} files` +
      `${r.weights ? ` (${r.weights.kind === 'single' ? 'one weights file' : 'sharded weights'}, ${r.weights.tensorCount} tensors)` : ''}`,
  );
  const t = r.tokenizer;
  lines.push(
    t.present
      ? `  tokenizer      ${t.vocabSize} tokens, end of sequence ${t.eosToken ?? 'unknown'}, chat template ${t.hasChatTemplate ? 'yes' : 'no (ChatML will be used)'}`
      : '  tokenizer      missing',
  );
  if (r.memory.length > 0) {
    const each = r.memory.map((m) => `${m.seqLen} tokens ${formatBytes(m.estimate.total)}`).join(', ');
    lines.push(`  QLoRA memory   ${each} (GPU, NF4, LoRA r 16 on all projections, batch 1, checkpointing)`);
  }
  const errors = r.problems.filter((p) => p.severity === 'error');
  if (r.problems.length > 0) {
    lines.push('', 'Problems:');
    for (const p of r.problems) {
      const text = p.message.includes(p.file) ? p.message : `${p.file}: ${p.message}`;
      lines.push(`  ${p.severity === 'error' ? 'error  ' : 'warning'}  ${text}`);
    }
  }
  lines.push(
    '',
    r.ok
      ? 'Ready to train.'
      : `Not usable: ${errors.length} problem${errors.length === 1 ? '' : 's'} to fix.`,
  );
  return lines.join('\n');
}
