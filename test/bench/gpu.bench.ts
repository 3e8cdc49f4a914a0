// `npm run bench:gpu` (a GPU machine only): the M7 workload of shared/specs/performance.md on our CUDA
// backend against PyTorch on the same GPU, in one run.
//   1. GEMM: tunesmith_gemm_bench (our kernels: W bf16, NF4 fused into the tile load, NF4 dequantized to a
//      scratch buffer first) and torch.matmul (test/gpu/torch_reference.py matmul) on M7's projection shapes,
//      forward x·Wᵀ and backward dy·W, alternating ours and theirs for BENCH_ROUNDS rounds; per-shape
//      TFLOP/s and ratios, and one time-weighted ratio over a layer's fourteen projection GEMMs.
//   2. M7 train step in PyTorch + PEFT, bf16 LoRA (torch_reference.py m7): tok/s, peak VRAM.
//   3. M7 train step on our engine (loadModel backend 'cuda', NF4, LoRA r 16 on all seven projections,
//      gradient checkpointing): tok/s, MFU, peak VRAM — when the engine's CUDA session can load a model;
//      otherwise it says why it skipped.
// The last line is the figure. Without a usable GPU it prints `skipped: no CUDA device (<reason>)`, exit 0.
// The table and ratios are computed by torch_reference.py compare, which test/gpu/run.sh also uses.
// Flags: --build-dir <dir> (default native/build), --out <file> (the JSON result, rewritten after every
// stage so a killed run still leaves what it measured), --quick, --skip-m7.
// Env: TUNESMITH_PYTHON (default python3: the GPU machine's own PyTorch), BENCH_ROUNDS (default 2).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeSafetensors } from '../../main/core/formats/safetensors.js';
import { writeEngineModel } from '../helpers/engine-model.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const BUILD_DIR = path.resolve(option('--build-dir') ?? path.join(ROOT, 'native', 'build'));
const OUT = option('--out');
const QUICK = flag('--quick');
const PYTHON = process.env.TUNESMITH_PYTHON ?? 'python3';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 2));
const TOKENS = 2048;
const REFERENCE = path.join(ROOT, 'test/gpu/torch_reference.py');
// performance.md: 30.3 GFLOP per trained token of M7 without recompute (forward 2N + input gradients 2N).
const M7_FLOP_PER_TOKEN = 30.3e9;

interface Result {
  device?: string;
  torch?: string;
  gemm?: Record<string, unknown>[];
  gemmRatios?: Record<string, number | undefined>;
  lora?: unknown[];
  pytorchM7?: unknown;
  oursM7?: unknown;
  skipped?: Record<string, string>;
  errors?: string[];
  summary?: string;
}
const result: Result = { skipped: {}, errors: [] };
const save = () => {
  if (OUT) writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
};
const fail = (stage: string, why: string) => {
  result.errors?.push(`${stage}: ${why}`);
  console.log(`${stage}: FAILED — ${why}`);
  save();
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

/** Runs a command that prints one JSON object on stdout; stderr passes through. */
function runJson(command: string, argv: string[], timeoutMs: number): { json?: unknown; error?: string } {
  const run = spawnSync(command, argv, {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (run.error) return { error: run.error.message };
  if (run.status !== 0) return { error: `exit status ${run.status}${run.signal ? ` (${run.signal})` : ''}` };
  try {
    return { json: JSON.parse(run.stdout) };
  } catch {
    return { error: `not JSON: ${run.stdout.slice(0, 300)}` };
  }
}

function noDeviceReason(): string {
  let info: { cudaCompiled?: boolean; cudaReason?: string } | undefined;
  try {
    info = JSON.parse(readFileSync(path.join(BUILD_DIR, 'build-info.json'), 'utf8'));
  } catch {
    return `no build in ${BUILD_DIR}: run node scripts/build-native.mjs`;
  }
  if (!info?.cudaCompiled) return `CUDA not compiled in: ${info?.cudaReason || 'no reason recorded'}`;
  const probe = spawnSync(process.execPath, ['-e', probeScript()], { encoding: 'utf8' });
  const line = probe.stdout.trim();
  return line === 'ok' ? '' : line || `the probe failed: ${probe.stderr.trim().split('\n')[0]}`;
}

function probeScript(): string {
  const addon = path.join(BUILD_DIR, 'Release', 'tunesmith_native.node');
  return `const p = require(${JSON.stringify(addon)}).probe();
console.log(p.backends.includes('cuda') ? 'ok' : (p.error || 'CUDA reports no usable GPU'));`;
}

// ---- 1. GEMM: ours vs torch.matmul ------------------------------------------------------------------------

function benchGemm(gemmBench: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tunesmith-gemm-'));
  try {
    const ours: string[] = [];
    const theirs: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const o = runJson(gemmBench, QUICK ? ['--quick'] : [], 300_000);
      if (o.error) return fail('GEMM (ours)', o.error);
      ours.push(path.join(dir, `ours${round}.json`));
      writeFileSync(ours.at(-1) ?? '', JSON.stringify(o.json));
      const t = runJson(PYTHON, [REFERENCE, 'matmul'], 300_000);
      if (t.error) {
        result.skipped = { ...result.skipped, torchMatmul: t.error };
        console.log(`torch.matmul: skipped (${t.error}); is PyTorch with CUDA installed for ${PYTHON}?`);
      } else {
        theirs.push(path.join(dir, `torch${round}.json`));
        writeFileSync(theirs.at(-1) ?? '', JSON.stringify(t.json));
      }
    }
    // The table and the ratios: torch_reference.py compare, shared with test/gpu/run.sh.
    const c = runJson(PYTHON, [REFERENCE, 'compare', '--ours', ...ours, '--torch', ...theirs], 60_000);
    if (c.error) return fail('GEMM comparison', c.error);
    const table = c.json as Pick<Result, 'device' | 'torch' | 'gemm' | 'gemmRatios' | 'lora'> & {
      lines: string[];
    };
    console.log(`\n${table.lines.join('\n')}`);
    Object.assign(result, {
      device: table.device,
      torch: table.torch,
      gemm: table.gemm,
      gemmRatios: table.gemmRatios,
      lora: table.lora,
    });
    save();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- 2. M7 in PyTorch + PEFT ----------------------------------------------------------------------------

function benchPytorchM7() {
  const t = runJson(
    PYTHON,
    [path.join(ROOT, 'test/gpu/torch_reference.py'), 'm7', '--steps', QUICK ? '3' : '5'],
    600_000,
  );
  if (t.error) return fail('M7 PyTorch', t.error);
  result.pytorchM7 = t.json;
  save();
}

// ---- 3. M7 on our engine --------------------------------------------------------------------------------

/** A Mistral-7B-shaped folder, bf16 weights (a repeating random block: speed does not depend on values). */
async function writeM7(dir: string) {
  const C = 4096;
  const F = 14336;
  const KV = 1024;
  const V = 32000;
  const L = 32;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['MistralForCausalLM'],
      model_type: 'mistral',
      vocab_size: V,
      hidden_size: C,
      intermediate_size: F,
      num_hidden_layers: L,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      hidden_act: 'silu',
      max_position_embeddings: 32768,
      rms_norm_eps: 1e-5,
      rope_theta: 10000.0,
      sliding_window: 4096,
      tie_word_embeddings: false,
      bos_token_id: 1,
      eos_token_id: 2,
    }),
  );
  const block = new Uint16Array(1 << 20);
  let s = 12345;
  const buf = new Float32Array(1);
  const bits = new Uint32Array(buf.buffer);
  for (let i = 0; i < block.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    buf[0] = (s / 4294967296 - 0.5) * 3.4641; // uniform with unit variance
    block[i] = (bits[0] ?? 0) >>> 16;
  }
  const tensor = (name: string, shape: number[], scale: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const out = new Uint16Array(n);
    // Scale by changing the exponent: bf16 bits + k·128 multiplies by 2^k (values are normal numbers).
    const shift = Math.round(Math.log2(scale)) * 128;
    const scaled = block.map((b) => (b & 0x7fff ? (b + shift) & 0xffff : b));
    for (let at = 0; at < n; at += scaled.length)
      out.set(scaled.subarray(0, Math.min(scaled.length, n - at)), at);
    return { name, dtype: 'BF16' as const, shape, data: new Uint8Array(out.buffer) };
  };
  const ones = (name: string) => {
    const out = new Uint16Array(C).fill(0x3f80);
    return { name, dtype: 'BF16' as const, shape: [C], data: new Uint8Array(out.buffer) };
  };
  const shards: { file: string; tensors: ReturnType<typeof tensor>[] }[] = [];
  shards.push({
    file: 'embed',
    tensors: [
      tensor('model.embed_tokens.weight', [V, C], 1),
      tensor('lm_head.weight', [V, C], 1 / 64),
      ones('model.norm.weight'),
    ],
  });
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    shards.push({
      file: `layer${l}`,
      tensors: [
        ones(`${p}.input_layernorm.weight`),
        ones(`${p}.post_attention_layernorm.weight`),
        tensor(`${p}.self_attn.q_proj.weight`, [C, C], 1 / 64),
        tensor(`${p}.self_attn.k_proj.weight`, [KV, C], 1 / 64),
        tensor(`${p}.self_attn.v_proj.weight`, [KV, C], 1 / 64),
        tensor(`${p}.self_attn.o_proj.weight`, [C, C], 1 / 64),
        tensor(`${p}.mlp.gate_proj.weight`, [F, C], 1 / 64),
        tensor(`${p}.mlp.up_proj.weight`, [F, C], 1 / 64),
        tensor(`${p}.mlp.down_proj.weight`, [C, F], 1 / 128),
      ],
    });
  }
  const weightMap: Record<string, string> = {};
  for (const [i, shard] of shards.entries()) {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    await writeSafetensors(path.join(dir, file), shard.tensors);
    for (const t of shard.tensors) weightMap[t.name] = file;
    shard.tensors.length = 0; // free the shard's buffers before making the next
  }
  writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
}

function peakBf16Flops(device: string): number | undefined {
  if (/H100|H200|GH200/i.test(device)) return 989.4e12; // dense bf16, SXM
  if (/A100/i.test(device)) return 312e12;
  return undefined;
}

async function benchOursM7() {
  process.env.TUNESMITH_NATIVE_PATH = path.join(BUILD_DIR, 'Release', 'tunesmith_native.node');
  const { loadNative } = await import('../../main/core/engine/native.js');
  const native = loadNative();
  const dir = mkdtempSync(path.join(process.env.BENCH_M7_DIR ?? tmpdir(), 'tunesmith-m7-'));
  try {
    // Can the engine train on the GPU at all? A tiny model first, so a missing backend costs no 14 GB.
    const tiny = await writeEngineModel(path.join(dir, 'tiny'), {
      arch: 'mistral',
      vocab: 256,
      hidden: 64,
      layers: 1,
      heads: 4,
      kvHeads: 2,
      ffn: 128,
    });
    try {
      const s = await native.loadModel({
        modelDir: tiny,
        backend: 'cuda',
        quant: 'nf4',
        lora: { r: 8, alpha: 16 },
        maxSeqLen: 64,
      });
      s.dispose();
    } catch (e) {
      const why = (e as Error).message.split('\n')[0] ?? String(e);
      result.skipped = { ...result.skipped, oursM7: why };
      console.log(`M7 ours: skipped (${why})`);
      save();
      return;
    }
    const t0 = performance.now();
    await writeM7(path.join(dir, 'm7'));
    console.log(`M7 ours: wrote the bf16 model in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const t1 = performance.now();
    const session = await native.loadModel({
      modelDir: path.join(dir, 'm7'),
      backend: 'cuda',
      quant: 'nf4',
      lora: { r: 16, alpha: 32 },
      maxSeqLen: TOKENS,
      gradientCheckpointing: true,
      seed: 1,
    });
    console.log(`M7 ours: loaded in ${((performance.now() - t1) / 1000).toFixed(0)} s`);
    let seed = 7;
    const batch = {
      tokens: Int32Array.from({ length: TOKENS }, () => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed % 32000;
      }),
      trained: Uint8Array.from({ length: TOKENS }, (_, i) => (i === 0 ? 0 : 1)),
      seqLens: Int32Array.from([TOKENS]),
    };
    const step = async () => {
      const t = performance.now();
      const r = await session.step(batch);
      await session.optimizerStep({ lr: 1e-4, maxGradNorm: 1 });
      return { seconds: (performance.now() - t) / 1000, tokens: r.trainedTokens, loss: r.loss };
    };
    await step();
    const times: number[] = [];
    let trained = 0;
    for (let i = 0; i < (QUICK ? 3 : 5); i++) {
      const r = await step();
      times.push(r.seconds);
      trained = r.tokens;
    }
    const tokS = trained / median(times);
    const peak = peakBf16Flops(result.device ?? '');
    const memory = session.memory();
    result.oursM7 = {
      tok_s: tokS,
      step_s: times,
      mfu: peak ? (tokS * M7_FLOP_PER_TOKEN) / peak : null,
      peak_vram_bytes: memory.peakBytes,
      memory,
      gradient_checkpointing: true,
    };
    session.dispose();
    save();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the run ----------------------------------------------------------------------------------------------

async function main() {
  const reason = noDeviceReason();
  if (reason) {
    console.log(`skipped: no CUDA device (${reason})`);
    result.skipped = { all: reason };
    save();
    return;
  }
  const gemmBench = path.join(BUILD_DIR, 'Release', 'tunesmith_gemm_bench');
  if (!existsSync(gemmBench)) {
    const build = spawnSync('cmake', ['--build', BUILD_DIR, '--target', 'tunesmith_gemm_bench'], {
      stdio: 'inherit',
    });
    if (build.status !== 0 || !existsSync(gemmBench))
      fail('GEMM', `${gemmBench} is missing and could not be built`);
  }
  if (existsSync(gemmBench)) benchGemm(gemmBench);
  if (!flag('--skip-m7')) {
    benchPytorchM7();
    try {
      await benchOursM7();
    } catch (e) {
      fail('M7 ours', (e as Error).message.split('\n')[0] ?? String(e));
    }
  }

  // The figure.
  const r = result.gemmRatios ?? {};
  const fmt = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(2));
  const pt = result.pytorchM7 as { runs?: { gradient_checkpointing: boolean; tok_s: number }[] } | undefined;
  const ptTokS = pt?.runs?.find((x) => x.gradient_checkpointing)?.tok_s;
  const ours = result.oursM7 as { tok_s: number; mfu: number | null } | undefined;
  const m7 = ours
    ? `ours ${ours.tok_s.toFixed(0)} tok/s${ours.mfu ? ` (MFU ${(100 * ours.mfu).toFixed(1)}%)` : ''}, pytorch+peft ${ptTokS?.toFixed(0) ?? '—'} tok/s, ratio ${ptTokS ? (ours.tok_s / ptTokS).toFixed(2) : '—'}`
    : `ours skipped, pytorch+peft ${ptTokS?.toFixed(0) ?? '—'} tok/s`;
  result.summary = `M7 gpu: ${m7}; GEMM / torch.matmul: bf16 ${fmt(r.bf16)}, nf4 fused ${fmt(r.nf4_fused)}, nf4 scratch ${fmt(r.nf4_scratch)}`;
  save();
  console.log(result.summary);
}

await main();
