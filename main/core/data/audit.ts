// The label audit before training (`tunesmith data check`): every example templated and tokenized
// with the trained mask, then checked — each example has trained tokens, each trained reply ends with
// the template's end-of-turn token, that token is one token of the vocabulary, and each example fits
// the maximum length (the reply is never cut: too-long examples are reported, or, if the person chose
// so, excluded or trimmed of their oldest turns — each reported). Blocking problems name the example
// and stop training; nothing is dropped without being reported.
import { type Conversation, type ImportedMessage, isConversation } from './conversation.js';
import { type ChatTemplate, type Segment, TemplateError } from './template/types.js';
import type { ModelTokenizer, SegmentEncoder, TokenizedExample } from './tokenize.js';
import { trimOldestTurns } from './trim.js';
import { type ExampleLocation, exampleLabel, type ValidationIssue } from './validate.js';

export const TOO_LONG_POLICIES = ['report', 'exclude', 'trim'] as const;
export type TooLongPolicy = (typeof TOO_LONG_POLICIES)[number];

export type IssueCode =
  | 'unknown-role'
  | 'no-reply'
  | 'empty-reply'
  | 'reply-contains-end-token'
  | 'template'
  | 'no-trained-tokens'
  | 'reply-not-ended'
  | 'too-long'
  | 'excluded-too-long'
  | 'trimmed'
  /** Rules of validate.ts (empty-reply, unknown-role, …) reported through the audit. */
  | (string & {});

export interface AuditIssue {
  /** 1-based position of the example in the dataset (version). */
  example: number;
  /** How messages name it: "Example 3 (row 4)". */
  where: string;
  code: IssueCode;
  blocking: boolean;
  message: string;
}

export interface HistogramBin {
  /** Token lengths from `from` to `to` inclusive; the last bin (to: null) is over the maximum length. */
  from: number;
  to: number | null;
  count: number;
}

export interface AuditReport {
  template: string;
  endOfTurn: string;
  endTokenId: number;
  maxLen: number;
  tooLong: TooLongPolicy;
  examples: number;
  /** Examples that will be trained (not blocked, not excluded). */
  kept: number;
  excluded: number;
  trimmed: number;
  totalTokens: number;
  trainedTokens: number;
  longest: number;
  histogram: HistogramBin[];
  issueCounts: Partial<Record<IssueCode, number>>;
  /** The first MAX_LISTED_ISSUES issues, in example order. */
  issues: AuditIssue[];
  blockingCount: number;
  /**
   * The first BOUNDARY_SAMPLE trained examples are also tokenized as one string: where that differs
   * from the segment-wise tokens (the boundary rule of tokenize.ts), it is counted here.
   */
  boundary: { checked: number; differing: number; firstExample: number | null };
  ok: boolean;
}

export interface AuditedExample {
  ordinal: number;
  messages: Conversation;
  segments: Segment[];
  tokens: TokenizedExample;
}

export interface ExampleInput {
  /** 0-based position in the dataset. */
  ordinal: number;
  /** Where it came from (file row or line), for messages. */
  location?: ExampleLocation;
  messages: readonly ImportedMessage[];
}

export class AuditError extends Error {
  override readonly name = 'AuditError';
  constructor(
    readonly code: 'end-token-missing',
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export const MAX_LISTED_ISSUES = 1000;
export const BOUNDARY_SAMPLE = 50;
const HISTOGRAM_BINS = 8;

/** The end-of-turn token's id, or an AuditError when the vocabulary has no such single token. */
export function endTokenId(
  model: ModelTokenizer,
  template: ChatTemplate,
  alternatives: readonly ChatTemplate[] = [],
): number {
  const single = (text: string): number | null => {
    const ids = model.tokenizer.encode(text, { add_special_tokens: false }).ids;
    return ids.length === 1 && ids[0] !== undefined ? ids[0] : null;
  };
  const id = single(template.endOfTurn);
  if (id !== null) return id;
  const pieces = model.tokenizer.encode(template.endOfTurn, { add_special_tokens: false }).ids.length;
  const usable = alternatives.filter((t) => t.name !== template.name && single(t.endOfTurn) !== null);
  const suggestion = usable.length
    ? `Use the model's own template or one whose end token it has (${usable.map((t) => `--template ${t.name}, ending in ${t.endOfTurn}`).join('; ')})`
    : "Use the model's own template (--template model)";
  throw new AuditError(
    'end-token-missing',
    `The ${template.name} template ends every reply with ${template.endOfTurn}, but this model's vocabulary has no such token (it would be split into ${pieces} pieces), so the model could not learn to stop.`,
    `${suggestion}, or a model that has these tokens. New tokens cannot be added for fine-tuning here: a LoRA adapter cannot carry new token embeddings.`,
  );
}

export class LabelAuditor {
  readonly #template: ChatTemplate;
  readonly #encoder: SegmentEncoder;
  readonly #maxLen: number;
  readonly #tooLong: TooLongPolicy;
  readonly #endId: number;
  readonly #binCount: number;
  readonly #bins: number[];
  readonly #issues: AuditIssue[] = [];
  readonly #issueCounts: Partial<Record<IssueCode, number>> = {};
  #examples = 0;
  #kept = 0;
  #excluded = 0;
  #trimmed = 0;
  #blocking = 0;
  #totalTokens = 0;
  #trainedTokens = 0;
  #longest = 0;
  readonly #boundary: AuditReport['boundary'] = { checked: 0, differing: 0, firstExample: null };

  constructor(
    encoder: SegmentEncoder,
    template: ChatTemplate,
    options: { maxLen: number; tooLong?: TooLongPolicy; alternatives?: readonly ChatTemplate[] },
  ) {
    if (!Number.isInteger(options.maxLen) || options.maxLen < 1) {
      throw new RangeError(
        `The maximum length must be a whole number of tokens above 0, not ${options.maxLen}.`,
      );
    }
    this.#encoder = encoder;
    this.#template = template;
    this.#maxLen = options.maxLen;
    this.#tooLong = options.tooLong ?? 'report';
    this.#endId = endTokenId(encoder.model, template, options.alternatives);
    this.#binCount = Math.min(HISTOGRAM_BINS, options.maxLen);
    this.#bins = new Array(this.#binCount + 1).fill(0);
  }

  get endTokenId(): number {
    return this.#endId;
  }

  /**
   * Audits one example: its tokens when it will be trained, null when blocked or excluded.
   * `validation`: the issues validate.ts found in it; an error among them blocks it here too.
   */
  add(example: ExampleInput, validation: readonly ValidationIssue[] = []): AuditedExample | null {
    this.#examples++;
    const n = example.ordinal + 1;
    const where = exampleLabel(example.ordinal, example.location);
    const problem = (code: IssueCode, message: string, blocking = true) =>
      this.#issue({ example: n, where, code, blocking, message: `${where} ${message}` });
    for (const v of validation) {
      this.#issue({ example: n, where, code: v.rule, blocking: v.severity === 'error', message: v.message });
    }
    if (validation.some((v) => v.severity === 'error')) return null;

    const { messages } = example;
    if (!isConversation(messages)) {
      const bad = messages.findIndex((m) => !['system', 'user', 'assistant'].includes(m.role));
      problem(
        'unknown-role',
        `has the role "${messages[bad]?.role}"; in turn ${bad + 1}; only system, user and assistant turns can be trained. Change or remove that turn.`,
      );
      return null;
    }
    if (!messages.some((m) => m.role === 'assistant')) {
      problem(
        'no-reply',
        'has no assistant reply, so there is nothing to train. Add the reply or remove the example.',
      );
      return null;
    }
    let fine = true;
    messages.forEach((m, i) => {
      if (m.role !== 'assistant') return;
      if (m.content.trim() === '') {
        problem('empty-reply', `has an empty reply in turn ${i + 1}. Write the reply or remove the example.`);
        fine = false;
      } else if (m.content.includes(this.#template.endOfTurn)) {
        problem(
          'reply-contains-end-token',
          `has the text ${this.#template.endOfTurn} inside its reply (turn ${i + 1}),, the token that ends a reply; the model would learn to stop there. Remove it from the reply.`,
        );
        fine = false;
      }
    });
    if (!fine) return null;

    let audited = this.#tokenize(example.ordinal, messages, problem);
    if (!audited) return null;
    let length = audited.tokens.ids.length;
    if (length > this.#maxLen) {
      const over = `is ${length} tokens after templating, over the maximum length of ${this.#maxLen}`;
      if (this.#tooLong === 'report') {
        problem(
          'too-long',
          `${over}. Replies are never cut: choose to exclude it (--too-long exclude), to drop its oldest turns (--too-long trim), or raise --max-len.`,
        );
        this.#bins[this.#binCount]! += 1;
        return null;
      }
      if (this.#tooLong === 'exclude') {
        problem('excluded-too-long', `${over}; it is left out, as chosen.`, false);
        this.#excluded++;
        return null;
      }
      const trimmed = trimOldestTurns(messages, (m) => this.#count(m), this.#maxLen);
      if (!trimmed) {
        problem(
          'too-long',
          `${over}, and its last exchange alone does not fit either. Shorten it, exclude it (--too-long exclude) or raise --max-len.`,
        );
        return null;
      }
      audited = this.#tokenize(example.ordinal, trimmed.messages, problem);
      if (!audited) return null;
      length = audited.tokens.ids.length;
      problem(
        'trimmed',
        `${over}; its ${trimmed.droppedTurns} oldest turns were dropped, as chosen (now ${length} tokens).`,
        false,
      );
      this.#trimmed++;
    }
    if (!this.#checkLabels(audited, problem)) return null;
    this.#kept++;
    if (this.#boundary.checked < BOUNDARY_SAMPLE) this.#checkBoundary(audited);
    this.#totalTokens += length;
    for (const flag of audited.tokens.trained) this.#trainedTokens += flag;
    this.#longest = Math.max(this.#longest, length);
    this.#bins[Math.floor(((length - 1) * this.#binCount) / this.#maxLen)]! += 1;
    return audited;
  }

  report(): AuditReport {
    // Bin i holds lengths L with floor((L-1)·bins/maxLen) = i; the extra last bin is over maxLen.
    const bins = this.#binCount;
    const edge = (i: number) => Math.ceil((i * this.#maxLen) / bins);
    const histogram: HistogramBin[] = this.#bins.map((count, i) => ({
      from: i === bins ? this.#maxLen + 1 : edge(i) + 1,
      to: i === bins ? null : edge(i + 1),
      count,
    }));
    return {
      template: this.#template.name,
      endOfTurn: this.#template.endOfTurn,
      endTokenId: this.#endId,
      maxLen: this.#maxLen,
      tooLong: this.#tooLong,
      examples: this.#examples,
      kept: this.#kept,
      excluded: this.#excluded,
      trimmed: this.#trimmed,
      totalTokens: this.#totalTokens,
      trainedTokens: this.#trainedTokens,
      longest: this.#longest,
      histogram,
      issueCounts: { ...this.#issueCounts },
      issues: [...this.#issues],
      blockingCount: this.#blocking,
      boundary: { ...this.#boundary },
      ok: this.#blocking === 0 && this.#kept > 0,
    };
  }

  #count(messages: Conversation): number {
    try {
      return this.#encoder.encode(this.#template.render(messages)).ids.length;
    } catch {
      return Number.POSITIVE_INFINITY;
    }
  }

  #tokenize(
    ordinal: number,
    messages: Conversation,
    problem: (code: IssueCode, message: string) => void,
  ): AuditedExample | null {
    let segments: Segment[];
    try {
      segments = this.#template.render(messages);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      problem('template', `cannot be rendered: ${err.message} ${err.hint}`);
      return null;
    }
    return { ordinal, messages, segments, tokens: this.#encoder.encode(segments) };
  }

  /** Positional checks of the mask: trained tokens exist, every reply ends with the end token. */
  #checkLabels(audited: AuditedExample, problem: (code: IssueCode, message: string) => void): boolean {
    const { tokens } = audited;
    if (!tokens.trained.includes(1)) {
      problem('no-trained-tokens', 'has no trained token. Check that it has a non-empty reply.');
      return false;
    }
    const unended = tokens.replies.findIndex(
      (r) => r.end <= r.start || tokens.ids[r.end - 1] !== this.#endId,
    );
    if (unended >= 0) {
      problem(
        'reply-not-ended',
        `has reply ${unended + 1} not ending with ${this.#template.endOfTurn} inside its trained tokens, so the model would not learn to stop. Choose another --template.`,
      );
      return false;
    }
    return true;
  }

  /** Segment-wise vs whole-string tokens, BOS added by the encoder aside. */
  #checkBoundary({ ordinal, segments, tokens }: AuditedExample): void {
    this.#boundary.checked++;
    const whole = this.#encoder.encodeWhole(segments.map((s) => s.text).join(''));
    const skip = tokens.ids.length - whole.length === 1 ? 1 : 0;
    const same =
      tokens.ids.length - skip === whole.length && whole.every((id, i) => tokens.ids[i + skip] === id);
    if (same) return;
    this.#boundary.differing++;
    this.#boundary.firstExample ??= ordinal + 1;
  }

  #issue(issue: AuditIssue): void {
    this.#issueCounts[issue.code] = (this.#issueCounts[issue.code] ?? 0) + 1;
    if (issue.blocking) this.#blocking++;
    if (this.#issues.length < MAX_LISTED_ISSUES) this.#issues.push(issue);
  }
}
