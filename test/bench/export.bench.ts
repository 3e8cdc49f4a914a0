// Base model → GGUF Q8_0 on a generated Mistral-shaped model of about --mb MB (f32 safetensors,
// written with our safetensors writer into a temp folder). The conversion runs in a child process
// so its peak RSS is its own; the reference in the same run is a plain file copy of the same bytes.
// Run: npm run bench:export [-- --mb 1000]
// Lines: export: <MB> MB f32 → Q8_0 in <s> s = <MB/s> MB/s, peak RSS <MiB> MiB (largest tensor <MiB> MiB);
//        copy: <MB/s> MB/s; ratio <x>
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeModelGguf } from '../../main/core/export/gguf-model.js';
import { writeSafetensors } from '../../main/core/formats/safetensors.js';
import { readModelConfig } from '../../main/core/models/config.js';
import { expectedTensors } from '../../main/core/models/tensor-names.js';
import { createTinyModel } from '../../main/core/models/tiny.js';

const { values } = parseArgs({
  options: { mb: { type: 'string', default: '1000' }, child: { type: 'string' } },
});

if (values.child) {
  const dir = values.child;
  const started = performance.now();
  await writeModelGguf({
    modelDir: dir,
    config: await readModelConfig(dir),
    outFile: path.join(dir, 'model.gguf'),
    dtype: 'q8_0',
  });
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(JSON.stringify({ seconds, maxRssKiB: process.resourceUsage().maxRSS }));
  process.exit(0);
}

const targetBytes = Number(values.mb) * 1e6;
const work = mkdtempSync(path.join(tmpdir(), 'tunesmith-bench-export-'));
try {
  // hidden 2048, ffn 5632, 32k vocab (Mistral's tokenizer): ~206 MB per layer, 2 × 262 MB embeddings.
  const hidden = 2048;
  const perLayer = (4 * hidden * hidden + 3 * hidden * 5632) * 4;
  const embeddings = 2 * 32000 * hidden * 4;
  const layers = Math.max(1, Math.round((targetBytes - embeddings) / perLayer));
  const tiny = await createTinyModel({
    arch: 'mistral',
    outDir: work,
    layers,
    hidden,
    heads: 16,
    kvHeads: 16,
    ffn: 5632,
  });
  const tensors = expectedTensors(tiny.config).map((t) => ({
    name: t.name,
    dtype: 'F32' as const,
    shape: t.shape,
    data: function* () {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const chunk = new Float32Array(1 << 20);
      for (let i = 0; i < chunk.length; i++) chunk[i] = Math.sin(i * 0.37) * 0.05;
      for (let at = 0; at < n; at += chunk.length)
        yield new Uint8Array(chunk.buffer, 0, Math.min(chunk.length, n - at) * 4);
    },
  }));
  const largest = Math.max(...tensors.map((t) => t.shape.reduce((a, b) => a * b, 1) * 4));
  await writeSafetensors(path.join(work, 'model.safetensors'), tensors, { format: 'pt' });
  const bytes = statSync(path.join(work, 'model.safetensors')).size;

  const child = JSON.parse(
    execFileSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', work], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    }),
  ) as { seconds: number; maxRssKiB: number };
  const copyStarted = performance.now();
  copyFileSync(path.join(work, 'model.safetensors'), path.join(work, 'copy.safetensors'));
  const copySeconds = (performance.now() - copyStarted) / 1000;
  const mb = bytes / 1e6;
  const ggufMb = statSync(path.join(work, 'model.gguf')).size / 1e6;
  console.log(
    `export: ${mb.toFixed(0)} MB f32 (${layers} layers) → Q8_0 ${ggufMb.toFixed(0)} MB in ${child.seconds.toFixed(1)} s = ${(mb / child.seconds).toFixed(0)} MB/s, ` +
      `peak RSS ${(child.maxRssKiB / 1024).toFixed(0)} MiB (largest tensor ${(largest / 2 ** 20).toFixed(0)} MiB f32)`,
  );
  console.log(
    `copy: ${(mb / copySeconds).toFixed(0)} MB/s; export/copy ratio ${(copySeconds / child.seconds).toFixed(3)}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
