// `npm run bench:engine`: the S15 workload (docs: shared/specs/performance.md) — a stories15M-shaped
// Llama (hidden 288, 6 layers, 6 heads, FFN 768, vocab 32000), micro-batch 4 × 256 tokens, NF4 base,
// LoRA r 16 on all seven projections, AdamW — one full training step (forward, backward, optimizer) on
// the engine's CPU backend against the same step in PyTorch on the CPU (test/reference/bench_step.py,
// Debian's /usr/bin/python3), same threads, alternating, after a warm-up. Prints the medians, the ratio
// and peak RSS; the last line is the figure. Env: BENCH_REPS (default 5), BENCH_THREADS (default: cores).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { loadNative } from '../../main/core/engine/native.js';
import { writeSafetensors } from '../../main/core/formats/safetensors.js';
import { writeEngineModel } from '../helpers/engine-model.js';

const REPS = Number(process.env.BENCH_REPS ?? 5);
const THREADS = Number(process.env.BENCH_THREADS ?? availableParallelism());
const [B, T, RANK] = [4, 256, 16];
const ROOT = path.resolve(import.meta.dirname, '..', '..');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'tunesmith-bench-'));
  try {
    const modelDir = await writeEngineModel(path.join(dir, 'model'), {
      arch: 'llama',
      vocab: 32000,
      hidden: 288,
      layers: 6,
      heads: 6,
      kvHeads: 6,
      ffn: 768,
    });
    let seed = 12345;
    const tokens = Int32Array.from({ length: B * T }, () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % 32000;
    });
    const batchPath = path.join(dir, 'batch.safetensors');
    await writeSafetensors(batchPath, [
      { name: 'tokens', dtype: 'I32', shape: [B, T], data: new Uint8Array(tokens.buffer) },
    ]);
    const trainedTokens = B * (T - 1);

    // PyTorch reference, a long-lived child answering "step" with its seconds.
    const py = spawn(
      '/usr/bin/python3',
      [path.join(ROOT, 'test/reference/bench_step.py'), modelDir, batchPath, String(THREADS), String(RANK)],
      { cwd: path.join(ROOT, 'test/reference'), stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines = createInterface({ input: py.stdout })[Symbol.asyncIterator]();
    const readLine = async () => {
      const next = await lines.next();
      if (next.done)
        throw new Error('the PyTorch reference exited; is python3-torch installed for /usr/bin/python3?');
      return next.value;
    };
    await readLine(); // "ready"
    const torchStep = async () => {
      py.stdin.write('step\n');
      const [seconds, rss] = (await readLine()).split(' ').map(Number);
      return { seconds: seconds ?? Number.NaN, rss: rss ?? 0 };
    };

    const session = await loadNative().loadModel({
      modelDir,
      quant: 'nf4',
      lora: { r: RANK, alpha: 32 },
      maxSeqLen: T,
      seed: 1,
      threads: THREADS,
    });
    const batch = {
      tokens,
      trained: Uint8Array.from({ length: B * T }, (_, i) => (i % T === 0 ? 0 : 1)),
      seqLens: Int32Array.from({ length: B }, () => T),
    };
    const engineStep = async () => {
      const t0 = performance.now();
      const r = await session.step(batch);
      await session.optimizerStep({ lr: 1e-4, maxGradNorm: 1 });
      if (r.trainedTokens !== trainedTokens) throw new Error(`engine trained ${r.trainedTokens} tokens`);
      return (performance.now() - t0) / 1000;
    };

    await engineStep(); // warm-up both
    await torchStep();
    const ours: number[] = [];
    const theirs: number[] = [];
    let torchRss = 0;
    for (let i = 0; i < REPS; i++) {
      ours.push(await engineStep());
      const t = await torchStep();
      theirs.push(t.seconds);
      torchRss = Math.max(torchRss, t.rss);
      console.log(
        `rep ${i + 1}/${REPS}: engine ${ours.at(-1)?.toFixed(3)} s, pytorch ${t.seconds.toFixed(3)} s`,
      );
    }
    py.stdin.write('quit\n');
    const engineTps = trainedTokens / median(ours);
    const torchTps = trainedTokens / median(theirs);
    const engineRss = process.resourceUsage().maxRSS * 1024;
    console.log(
      `threads ${THREADS}; peak RSS: engine process ${mib(engineRss)} (engine arenas ${mib(session.memory().peakBytes)}), pytorch process ${mib(torchRss)}`,
    );
    console.log(
      `S15 cpu: ${engineTps.toFixed(0)} tok/s, pytorch ${torchTps.toFixed(0)} tok/s, ratio ${(engineTps / torchTps).toFixed(2)}`,
    );
    session.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
