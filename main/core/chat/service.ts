// Chat with a model: a run's checkpoint (its model, its training template, the checkpoint's adapter),
// the run's base model, or a model folder as it is. Sessions stay loaded between turns (SessionCache);
// a reply can be cancelled by its request id and then ends with what was generated so far.
import path from 'node:path';
import type { ChatReply } from '../../api/contract/chat.js';
import type { Conversation } from '../data/conversation.js';
import type { TemplateName } from '../data/template/index.js';
import type { TokenizerCache } from '../data/tokenizer-cache.js';
import { GenerateError, type GenerateResult, preparePrompt, streamReply } from '../engine/generate.js';
import { loadNative } from '../engine/native.js';
import type { SessionCache } from '../engine/session-cache.js';
import { adapterDirOf, type CheckpointChoice, chooseCheckpoint } from '../runs/checkpoint-choice.js';
import { type RunDefinition, RunError } from '../runs/define.js';
import type { Store } from '../store/index.js';

export interface ChatRequest {
  requestId: string;
  runId?: number;
  checkpoint: CheckpointChoice | 'base';
  modelDir?: string;
  system?: string;
  messages: Conversation;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  seed?: number;
}

interface ChatTarget {
  modelDir: string;
  adapterDir: string | null;
  backend: 'cpu' | 'cuda';
  template?: TemplateName;
  source: string;
}

export class ChatService {
  readonly #store: Store;
  readonly #sessions: SessionCache;
  readonly #tokenizers: TokenizerCache;
  readonly #active = new Map<string, AbortController>();

  constructor(deps: { store: Store; sessions: SessionCache; tokenizers: TokenizerCache }) {
    this.#store = deps.store;
    this.#sessions = deps.sessions;
    this.#tokenizers = deps.tokenizers;
  }

  async generate(request: ChatRequest, onText: (text: string) => void): Promise<ChatReply> {
    if (this.#active.has(request.requestId)) {
      throw new GenerateError(
        'duplicate-request',
        `A reply with the request id ${request.requestId} is already being written.`,
        'Give every message its own request id.',
      );
    }
    const target = this.#target(request);
    const model = this.#tokenizers.get(target.modelDir);
    const prompt = preparePrompt(model, {
      messages: request.messages,
      ...(request.system && { system: request.system }),
      ...(target.template && { template: target.template }),
    });
    const controller = new AbortController();
    this.#active.set(request.requestId, controller);
    const key = {
      modelDir: target.modelDir,
      adapterDir: target.adapterDir,
      seed: request.seed ?? 0,
      backend: target.backend,
    };
    let started = false;
    // A reply cancelled while it waits for the session ends at once, with nothing.
    const cancelledWhileWaiting = new Promise<GenerateResult | null>((resolve) => {
      controller.signal.addEventListener('abort', () => resolve(started ? null : emptyResult(prompt)), {
        once: true,
      });
    });
    try {
      const generated = this.#sessions.use(key, prompt.ids.length + request.maxNewTokens, (session) => {
        started = true;
        return streamReply(session, prompt, {
          maxNewTokens: request.maxNewTokens,
          temperature: request.temperature,
          topP: request.topP,
          useAdapter: target.adapterDir !== null,
          signal: controller.signal,
          onText,
        });
      });
      const result = (await Promise.race([generated, cancelledWhileWaiting.then((r) => r ?? generated)]))!;
      return {
        requestId: request.requestId,
        text: result.text,
        stopped: result.stopped,
        cancelled: result.cancelled,
        tokens: result.tokens.length - (result.stopped ? 1 : 0),
        promptTokens: result.promptTokens,
        tokensPerSecond: result.tokensPerSecond,
        template: result.template,
        source: target.source,
      };
    } finally {
      this.#active.delete(request.requestId);
    }
  }

  /** Stops the reply with this request id; false when there is none (already finished). */
  cancel(requestId: string): boolean {
    const controller = this.#active.get(requestId);
    controller?.abort();
    return controller !== undefined;
  }

  close(): void {
    for (const controller of this.#active.values()) controller.abort();
    this.#sessions.close();
  }

  #target(request: ChatRequest): ChatTarget {
    if (request.runId === undefined) {
      if (!request.modelDir) {
        throw new GenerateError(
          'bad-request',
          'Say which model to chat with.',
          'Give a run or a model folder.',
        );
      }
      const modelDir = path.resolve(request.modelDir);
      const backend = loadNative().probe().backends.includes('cuda') ? 'cuda' : 'cpu';
      return { modelDir, adapterDir: null, backend, source: `base model (${path.basename(modelDir)})` };
    }
    const runId = request.runId;
    const run = this.#store.runs.get(runId);
    if (!run) {
      throw new RunError('not-found', `There is no run ${runId}.`, 'Choose a run from the list of runs.');
    }
    const definition = run.config as unknown as RunDefinition;
    // The backend the run trained on (a GPU run chats on the GPU).
    const base = {
      modelDir: definition.modelDir,
      template: definition.template,
      backend: definition.backend,
    };
    if (request.checkpoint === 'base') {
      return { ...base, adapterDir: null, source: `base model of run ${runId} (without its training)` };
    }
    const checkpoint = chooseCheckpoint(this.#store.checkpoints.listForRun(runId), request.checkpoint, runId);
    return {
      ...base,
      adapterDir: adapterDirOf(checkpoint),
      source: `run ${runId}, checkpoint at step ${checkpoint.step}`,
    };
  }
}

function emptyResult(prompt: ReturnType<typeof preparePrompt>): GenerateResult {
  return {
    text: '',
    tokens: [],
    promptTokens: prompt.ids.length,
    stopped: false,
    cancelled: true,
    template: prompt.template,
    tokensPerSecond: 0,
  };
}
