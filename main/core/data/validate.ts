// Validation rules that need no tokenizer. Each rule looks at one example and returns issues with a
// severity and a message a person can act on; "error" blocks training, "warning" does not. Exact
// duplicates are found across a version (see findDuplicates). Ordinals are 0-based here; messages
// count examples from 1, as a person counts rows.
import { type ImportedMessage, isRole } from './conversation.js';

export type Severity = 'error' | 'warning';

export type RuleName =
  | 'empty-reply'
  | 'missing-reply'
  | 'not-ending-with-reply'
  | 'unknown-role'
  | 'invalid-utf8'
  | 'empty-prompt'
  | 'duplicate'
  | (string & {}); // rules added elsewhere (part B: too-long)

export interface ValidationIssue {
  /** 0-based position of the example in its version. */
  ordinal: number;
  severity: Severity;
  rule: RuleName;
  message: string;
}

/** Where an example came from, for messages: the file line or row. */
export interface ExampleLocation {
  line?: number;
  row?: number;
  file?: string;
}

export interface ExampleToCheck {
  ordinal: number;
  messages: readonly ImportedMessage[];
  location?: ExampleLocation;
}

export type ExampleRule = (example: ExampleToCheck) => ValidationIssue[];

/** "Example 12 (line 40)" — how messages name an example. */
export function exampleLabel(ordinal: number, location?: ExampleLocation): string {
  const where: string[] = [];
  if (location?.file) where.push(location.file);
  if (location?.line !== undefined) where.push(`line ${location.line}`);
  else if (location?.row !== undefined) where.push(`row ${location.row}`);
  return `Example ${ordinal + 1}${where.length ? ` (${where.join(', ')})` : ''}`;
}

const issue = (e: ExampleToCheck, severity: Severity, rule: RuleName, text: string): ValidationIssue => ({
  ordinal: e.ordinal,
  severity,
  rule,
  message: `${exampleLabel(e.ordinal, e.location)} ${text}`,
});

export const checkReply: ExampleRule = (e) => {
  const replies = e.messages.filter((m) => m.role === 'assistant');
  if (replies.length === 0) {
    return [
      issue(
        e,
        'error',
        'missing-reply',
        'has no assistant reply: there is nothing to learn from it. Add the reply or delete the example.',
      ),
    ];
  }
  const last = replies[replies.length - 1];
  if (last !== undefined && last.content.trim() === '') {
    return [
      issue(
        e,
        'error',
        'empty-reply',
        'has an empty assistant reply. Write the reply or delete the example.',
      ),
    ];
  }
  return [];
};

export const checkEndsWithReply: ExampleRule = (e) => {
  const last = e.messages[e.messages.length - 1];
  if (!last || last.role === 'assistant' || !e.messages.some((m) => m.role === 'assistant')) return [];
  return [
    issue(
      e,
      'error',
      'not-ending-with-reply',
      `ends with a ${last.role} turn, not an assistant reply. Add the reply to that turn or delete the last turn.`,
    ),
  ];
};

export const checkRoles: ExampleRule = (e) =>
  e.messages.flatMap((m, i) =>
    isRole(m.role)
      ? []
      : [
          issue(
            e,
            'error',
            'unknown-role',
            `turn ${i + 1} has the role "${m.role || '(none)'}"; only system, user and assistant can be trained. Change the role or delete the turn.`,
          ),
        ],
  );

export const checkEncoding: ExampleRule = (e) => {
  const turn = e.messages.findIndex((m) => m.content.includes('\uFFFD'));
  if (turn < 0) return [];
  return [
    issue(
      e,
      'error',
      'invalid-utf8',
      `has unreadable characters (�) in turn ${turn + 1}: the file was probably not saved as UTF-8 (e.g. Big5 or GBK). Re-save the file as UTF-8 and import it again, or fix the text.`,
    ),
  ];
};

export const checkPrompt: ExampleRule = (e) => {
  const replyAt = e.messages.map((m) => m.role).lastIndexOf('assistant');
  const prompt = replyAt < 0 ? e.messages : e.messages.slice(0, replyAt);
  if (prompt.some((m) => m.role === 'user' && m.content.trim() !== '')) return [];
  return [
    issue(
      e,
      'warning',
      'empty-prompt',
      'has no question (no non-empty user turn before the reply). The model will learn to answer nothing.',
    ),
  ];
};

/** The per-example rules, in the order their issues are listed. Part B adds the length rule beside these. */
export const EXAMPLE_RULES: readonly ExampleRule[] = [
  checkRoles,
  checkReply,
  checkEndsWithReply,
  checkEncoding,
  checkPrompt,
];

export function checkExample(
  example: ExampleToCheck,
  rules: readonly ExampleRule[] = EXAMPLE_RULES,
): ValidationIssue[] {
  return rules.flatMap((rule) => rule(example));
}

export function duplicateIssue(
  ordinal: number,
  firstOrdinal: number,
  location?: ExampleLocation,
): ValidationIssue {
  return {
    ordinal,
    severity: 'warning',
    rule: 'duplicate',
    message: `${exampleLabel(ordinal, location)} is an exact copy of example ${firstOrdinal + 1}. Duplicates weigh that example double; delete one unless that is meant.`,
  };
}

/** Exact duplicates by content hash, for lists that fit in memory (the store finds them in SQL). */
export function findDuplicates(
  hashes: Iterable<{ ordinal: number; hash: string }>,
): { ordinal: number; firstOrdinal: number }[] {
  const first = new Map<string, number>();
  const out: { ordinal: number; firstOrdinal: number }[] = [];
  for (const { ordinal, hash } of hashes) {
    const seen = first.get(hash);
    if (seen === undefined) first.set(hash, ordinal);
    else out.push({ ordinal, firstOrdinal: seen });
  }
  return out;
}

/** What a report says in short, plus its first issues (a version may have many). */
export interface ValidationReport {
  exampleCount: number;
  errorCount: number;
  warningCount: number;
  /** Examples with at least one error: training refuses these. */
  blockingCount: number;
  /** 0-based ordinals of the first blocking examples (at most `limit`). */
  blockingOrdinals: number[];
  byRule: Record<string, { severity: Severity; count: number }>;
  /** The first issues, by example order. */
  issues: ValidationIssue[];
  truncated: boolean;
}

/** Accumulates issues into a report, keeping only the first `limit` in full. */
export class ReportBuilder {
  readonly #limit: number;
  readonly #report: ValidationReport = {
    exampleCount: 0,
    errorCount: 0,
    warningCount: 0,
    blockingCount: 0,
    blockingOrdinals: [],
    byRule: {},
    issues: [],
    truncated: false,
  };
  #lastBlocking = -1;

  constructor(limit = 200) {
    this.#limit = limit;
  }

  countExample(): void {
    this.#report.exampleCount++;
  }

  add(issues: readonly ValidationIssue[]): void {
    const r = this.#report;
    for (const i of issues) {
      if (i.severity === 'error') r.errorCount++;
      else r.warningCount++;
      let rule = r.byRule[i.rule];
      if (!rule) {
        rule = { severity: i.severity, count: 0 };
        r.byRule[i.rule] = rule;
      }
      rule.count++;
      if (i.severity === 'error' && i.ordinal !== this.#lastBlocking) {
        this.#lastBlocking = i.ordinal;
        r.blockingCount++;
        if (r.blockingOrdinals.length < this.#limit) r.blockingOrdinals.push(i.ordinal);
      }
      if (r.issues.length < this.#limit) r.issues.push(i);
      else r.truncated = true;
    }
  }

  build(): ValidationReport {
    const r = this.#report;
    r.issues.sort((a, b) => a.ordinal - b.ordinal);
    return r;
  }
}
