// Checkpoints side by side (`runs.compare`): the same questions — by default the run's fixed eval
// prompts, the ones its samples answer during training — answered greedily by each chosen checkpoint
// and by the base model, with how often each ends its reply itself. One engine session is loaded
// for the whole comparison, as the trainer built it; each checkpoint's adapter is loaded into it in
// turn (a checkpoint's adapter replaces the previous one whole), and the base model is the same
// session with the adapter switched off.
import type { CheckpointComparison } from '../../api/contract/runs.js';
import { createTemplate } from '../data/template/index.js';
import type { TokenizerCache } from '../data/tokenizer-cache.js';
import { type PreparedPrompt, promptIds, streamReply } from '../engine/generate.js';
import { loadNative, type Session } from '../engine/native.js';
import type { Store } from '../store/index.js';
import { adapterDirOf, chooseCheckpoint } from './checkpoint-choice.js';
import { type RunDefinition, RunError } from './define.js';
import { assertModelUnchanged } from './model-check.js';

export interface CompareRequest {
  runId: number;
  checkpoints: (number | 'base')[];
  prompts?: string[];
  maxNewTokens: number;
}

type Column = CheckpointComparison['columns'][number];

export async function compareCheckpoints(
  store: Store,
  tokenizers: TokenizerCache,
  request: CompareRequest,
): Promise<CheckpointComparison> {
  const run = store.runs.get(request.runId);
  if (!run) {
    throw new RunError(
      'not-found',
      `There is no run ${request.runId}.`,
      'Choose a run from the list of runs.',
    );
  }
  const definition = run.config as unknown as RunDefinition;
  const saved = store.checkpoints.listForRun(run.id);
  const chosen = request.checkpoints.map((c) =>
    c === 'base' ? ('base' as const) : chooseCheckpoint(saved, c, run.id),
  );
  assertModelUnchanged(definition, run.id);
  const model = tokenizers.get(definition.modelDir);
  const template = createTemplate(definition.template, model.context, model.specialTokens);
  const prompts = request.prompts
    ? request.prompts.map((text) => ({
        text,
        ids: Array.from(promptIds(model, template, [{ role: 'user', content: text }])),
      }))
    : definition.samplePrompts;
  if (prompts.length === 0) {
    throw new RunError(
      'no-prompts',
      `Run ${run.id} has no fixed questions to compare with (it was set to take no samples).`,
      'Type one or more questions to ask each checkpoint.',
    );
  }
  const h = definition.hyper;
  const longest = Math.max(...prompts.map((p) => p.ids.length));
  const session = await loadNative().loadModel({
    modelDir: definition.modelDir,
    backend: definition.backend,
    quant: h.quant,
    lora: { r: h.loraR, alpha: h.loraAlpha, targetModules: h.loraTargets },
    maxSeqLen: longest + request.maxNewTokens,
    seed: h.seed,
    ...(h.threads > 0 && { threads: h.threads }),
  });
  try {
    const columns: Column[] = [];
    for (const checkpoint of chosen) {
      if (checkpoint !== 'base') await session.loadAdapter(adapterDirOf(checkpoint));
      const replies: Column['replies'] = [];
      for (const prompt of prompts) {
        const reply = await answer(
          session,
          {
            model,
            template: definition.template,
            ids: Int32Array.from(prompt.ids),
            stopTokens: definition.stopTokens,
          },
          checkpoint !== 'base',
          request.maxNewTokens,
        );
        replies.push(reply);
      }
      columns.push({
        checkpoint:
          checkpoint === 'base'
            ? 'base'
            : { id: checkpoint.id, step: checkpoint.step, evalLoss: checkpoint.evalLoss },
        replies,
        stopRate: replies.filter((r) => r.stopped).length / replies.length,
        meanReplyTokens: replies.reduce((n, r) => n + r.tokens, 0) / replies.length,
      });
    }
    return { prompts: prompts.map((p) => p.text), columns };
  } finally {
    session.dispose();
  }
}

/** One greedy reply; its token count leaves out the end token. */
async function answer(
  session: Session,
  prompt: PreparedPrompt,
  useAdapter: boolean,
  maxNewTokens: number,
): Promise<Column['replies'][number]> {
  const { result, settled } = streamReply(session, prompt, {
    maxNewTokens,
    temperature: 0,
    topP: 1,
    useAdapter,
  });
  const reply = await result;
  await settled;
  return { text: reply.text, stopped: reply.stopped, tokens: reply.tokens.length - (reply.stopped ? 1 : 0) };
}
