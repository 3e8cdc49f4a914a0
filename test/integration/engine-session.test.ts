// The engine's Session through the addon, as the trainer will use it: a tiny model learns a few
// ChatML-shaped replies (loss on replies only) and then generates one by itself, ending with the end
// token; a run saved and resumed in a fresh session continues exactly; the adapter round-trips in PEFT
// format; bad inputs are rejected with messages that say what to do, and the session keeps working.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNative } from '../../main/core/engine/native.js';
import type { Batch, LoadModelOptions, Session } from '../../native/index.js';
import { writeEngineModel } from '../helpers/engine-model.js';

const [IM_START, IM_END, USER, ASSISTANT, NL] = [1, 2, 3, 4, 5];
const DIALOGS: [number[], number[]][] = [
  [
    [10, 11],
    [20, 21, 22, 23],
  ],
  [
    [12, 13],
    [30, 31, 32],
  ],
  [
    [14, 15, 16],
    [40, 41, 42, 43, 44],
  ],
  [[17], [50, 51]],
];

const promptOf = (words: number[]) => [IM_START, USER, NL, ...words, IM_END, NL, IM_START, ASSISTANT, NL];

function chatBatch(): Batch {
  const tokens: number[] = [];
  const trained: number[] = [];
  const seqLens: number[] = [];
  for (const [prompt, reply] of DIALOGS) {
    const p = promptOf(prompt);
    tokens.push(...p, ...reply, IM_END);
    trained.push(...p.map(() => 0), ...reply.map(() => 1), 1); // the end token is trained too
    seqLens.push(p.length + reply.length + 1);
  }
  return {
    tokens: Int32Array.from(tokens),
    trained: Uint8Array.from(trained),
    seqLens: Int32Array.from(seqLens),
  };
}

let root: string;
let modelDir: string;
const options = (extra: Partial<LoadModelOptions> = {}): LoadModelOptions => ({
  modelDir,
  quant: 'nf4',
  lora: { r: 8, alpha: 16 },
  maxSeqLen: 64,
  seed: 3,
  threads: 2,
  ...extra,
});

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'tunesmith-engine-'));
  modelDir = await writeEngineModel(path.join(root, 'model'), {
    arch: 'llama',
    vocab: 64,
    hidden: 64,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    ffn: 128,
  });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('engine session', () => {
  it('learns ChatML replies, then generates one and stops at the end token', async () => {
    const session = await loadNative().loadModel(options());
    const batch = chatBatch();
    let loss = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 200 && loss >= 0.1; i++) {
      const result = await session.step(batch);
      expect(result.trainedTokens).toBe(18);
      loss = result.loss;
      await session.optimizerStep({ lr: 1e-2, maxGradNorm: 1 });
    }
    console.log(
      `engine learning test: final loss ${loss.toFixed(4)} after ${session.info().optimizerSteps} steps`,
    );
    expect(loss).toBeLessThan(0.1);

    const [prompt, reply] = DIALOGS[2] ?? [[], []];
    const streamed: number[] = [];
    const out = await session.generate(
      Int32Array.from(promptOf(prompt)),
      { maxNewTokens: 20, stopTokens: [IM_END] },
      (t) => {
        streamed.push(t);
      },
    );
    expect(Array.from(out)).toEqual([...reply, IM_END]);
    expect(streamed).toEqual(Array.from(out));
    // onToken returning false stops the engine within a token or two (a cancelled chat reply).
    const seen: number[] = [];
    const stopped = await session.generate(
      Int32Array.from(promptOf(prompt)),
      { maxNewTokens: 20, stopTokens: [] },
      (t) => {
        seen.push(t);
        return seen.length < 2;
      },
    );
    expect(seen).toHaveLength(2);
    expect(stopped.length).toBeGreaterThanOrEqual(2);
    expect(stopped.length).toBeLessThanOrEqual(4);
    // Without the adapter the base model says something else.
    const base = await session.generate(Int32Array.from(promptOf(prompt)), {
      maxNewTokens: 6,
      stopTokens: [IM_END],
      useAdapter: false,
    });
    expect(Array.from(base)).not.toEqual([...reply, IM_END]);
    session.dispose();
  });

  it('resumes from saved state exactly: N steps + save + load + M steps == N+M steps', async () => {
    const batch = chatBatch();
    const run = async (session: Session, steps: number) => {
      const losses: number[] = [];
      for (let i = 0; i < steps; i++) {
        losses.push((await session.step(batch, { neftuneAlpha: 5 })).loss);
        await session.optimizerStep({ lr: 5e-3, weightDecay: 0.01 });
      }
      return losses;
    };
    const opts = options({ lora: { r: 4, alpha: 8, dropout: 0.1 } });
    const straight = await run(await loadNative().loadModel(opts), 5);
    const first = await loadNative().loadModel(opts);
    const head = await run(first, 3);
    await first.saveState(path.join(root, 'state.bin'));
    first.dispose();
    const resumed = await loadNative().loadModel(opts);
    await resumed.loadState(path.join(root, 'state.bin'));
    const tail = await run(resumed, 2);
    expect([...head, ...tail]).toEqual(straight);
  });

  it('saves a PEFT adapter and loads it into a fresh session', async () => {
    const a = await loadNative().loadModel(options({ quant: 'none' }));
    await a.step(chatBatch());
    await a.optimizerStep({ lr: 1e-2 });
    const dir = path.join(root, 'adapter');
    await a.saveAdapter(dir, { baseModelName: 'tiny/llama' });
    const cfgText = readFileSync(path.join(dir, 'adapter_config.json'), 'utf8');
    expect(cfgText).toContain('"lora_alpha": 16,');
    const cfg = JSON.parse(cfgText);
    expect(cfg).toMatchObject({
      r: 8,
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      bias: 'none',
      base_model_name_or_path: 'tiny/llama',
      use_rslora: false,
    });
    expect(cfg.target_modules).toEqual([
      'q_proj',
      'k_proj',
      'v_proj',
      'o_proj',
      'gate_proj',
      'up_proj',
      'down_proj',
    ]);
    const b = await loadNative().loadModel(options({ quant: 'none', seed: 99 }));
    const before = await b.evalLoss(chatBatch());
    await b.loadAdapter(dir);
    const after = await b.evalLoss(chatBatch());
    expect(after.loss).toBe((await a.evalLoss(chatBatch())).loss);
    expect(after.loss).not.toBe(before.loss);
  });

  it('rejects bad inputs with messages that say what to do, and keeps working', async () => {
    const native = loadNative();
    await expect(native.loadModel({ ...options(), modelDir: path.join(root, 'nope') })).rejects.toThrow(
      /nope/,
    );
    await expect(native.loadModel({ ...options(), quant: 'q4' as 'nf4' })).rejects.toThrow(
      /quant must be 'nf4' or 'none'/,
    );
    // Forcing CUDA where there is no usable GPU says why and what to use instead.
    if (!native.probe().backends.includes('cuda')) {
      await expect(native.loadModel({ ...options(), backend: 'cuda' })).rejects.toThrow(/backend: 'cpu'/);
    }
    const session = await native.loadModel(options());
    const good = chatBatch();
    await expect(session.step({ ...good, trained: good.trained.subarray(1) })).rejects.toThrow(
      /one mask entry per token/,
    );
    await expect(session.step({ ...good, tokens: Int32Array.from(good.tokens, () => 64) })).rejects.toThrow(
      /outside the vocabulary \(0\.\.63\)/,
    );
    await expect(session.step({ ...good, seqLens: Int32Array.of(3) })).rejects.toThrow(/must match/);
    await expect(session.step({ ...good, tokens: [1, 2] as unknown as Int32Array })).rejects.toThrow(
      /Int32Array/,
    );
    await expect(session.optimizerStep({ lr: 1e-3 })).rejects.toThrow(/no trained tokens/);
    await expect(session.generate(Int32Array.of(70))).rejects.toThrow(/outside the vocabulary/);
    await expect(session.loadState(path.join(root, 'missing.bin'))).rejects.toThrow(/missing\.bin/);
    const running = session.step(good);
    await expect(session.step(good)).rejects.toThrow(/busy/);
    expect((await running).trainedTokens).toBe(18);
    expect(session.memory().hostBytes).toBeGreaterThan(0);
    session.dispose();
    await expect(session.step(good)).rejects.toThrow(/disposed/);
  });
});
