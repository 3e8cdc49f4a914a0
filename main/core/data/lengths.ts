// Token lengths of a dataset version under a model's tokenizer and a template, tokenized exactly as
// training does (the label audit's tokens). The lengths do not depend on the max length, so they are
// kept per (version, tokenizer, template): moving the max-length slider only re-bins them.
// Tokenizing a large version takes a while; it yields to the event loop between slices so the
// server keeps answering, and concurrent requests for the same lengths share one pass.
import type { DatasetLengths } from '../../api/contract/datasets.js';
import { defaultTemplate } from '../engine/generate.js';
import type { Store } from '../store/index.js';
import { openAuditor, versionExamples } from './check.js';
import { DataError } from './errors.js';
import { summarizeLengths } from './length-histogram.js';
import type { TemplateName } from './template/index.js';
import type { TokenizerCache } from './tokenizer-cache.js';
import { checkExample } from './validate.js';

export interface LengthsRequest {
  versionId: number;
  modelDir: string;
  template?: TemplateName;
  maxLen: number;
  bins: number;
}

const MAX_CACHED = 8;
const SLICE = 200;
/** Long enough for any example: lengths are measured, never cut. */
const NO_LIMIT = 2 ** 31 - 1;

export class LengthCache {
  readonly #store: Store;
  readonly #tokenizers: TokenizerCache;
  readonly #entries = new Map<string, Promise<Int32Array>>();

  constructor(store: Store, tokenizers: TokenizerCache) {
    this.#store = store;
    this.#tokenizers = tokenizers;
  }

  async lengths(req: LengthsRequest): Promise<DatasetLengths> {
    const version = this.#store.datasets.getVersion(req.versionId);
    if (!version) {
      throw new DataError(
        'not-found',
        `There is no dataset version ${req.versionId}.`,
        'Choose a dataset again.',
      );
    }
    const model = this.#tokenizers.get(req.modelDir);
    const template = req.template ?? defaultTemplate(model);
    // The version's creation time tells a reused id apart.
    const key = JSON.stringify([version.id, version.createdAt, model.hash, template]);
    let pending = this.#entries.get(key);
    if (!pending) {
      pending = this.#measure(req.versionId, req.modelDir, template);
      this.#entries.set(key, pending);
      pending.catch(() => this.#entries.delete(key));
      while (this.#entries.size > MAX_CACHED) {
        const oldest = this.#entries.keys().next().value;
        if (oldest === undefined) break;
        this.#entries.delete(oldest);
      }
    }
    const lengths = await pending;
    return { template, maxLen: req.maxLen, ...summarizeLengths(lengths, req.maxLen, req.bins) };
  }

  /** Lengths of the examples training can use (blocked ones have no length to show). */
  async #measure(versionId: number, modelDir: string, template: TemplateName): Promise<Int32Array> {
    const model = this.#tokenizers.get(modelDir);
    const auditor = openAuditor(model, { template, maxLen: NO_LIMIT, tooLong: 'report' });
    const lengths: number[] = [];
    let sinceYield = 0;
    for (const example of versionExamples(this.#store, versionId)) {
      const audited = auditor.add(example, checkExample(example));
      if (audited) lengths.push(audited.tokens.ids.length);
      if (++sinceYield >= SLICE) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return Int32Array.from(lengths);
  }
}
