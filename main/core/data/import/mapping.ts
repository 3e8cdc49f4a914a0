// Which column (or field) plays which role. Detection looks at the column names (and, for JSON, at
// the shape of the values) and explains its choice in plain words; `--map` overrides it.
import { type ImportedMessage, isRole } from '../conversation.js';
import { DataError } from '../errors.js';

/** Columns → one system / user / assistant turn per row, or a field holding a whole conversation. */
export type Mapping =
  | { kind: 'columns'; system: string | null; user: string[]; assistant: string }
  | { kind: 'messages'; field: string };

export interface MappingProposal {
  mapping: Mapping;
  /** Which known layout it matched: reference, alpaca, prompt-completion, openai, sharegpt, columns. */
  layout: string;
  reason: string;
}

const SYSTEM_NAMES = ['system', 'system_prompt', 'system_message', 'sys'];
const USER_NAMES = ['question', 'prompt', 'instruction', 'user', 'query', 'human', 'input', 'request'];
const ASSISTANT_NAMES = [
  'chosen',
  'answer',
  'response',
  'output',
  'completion',
  'assistant',
  'reply',
  'gpt',
  'target',
];
const CONVERSATION_NAMES = ['messages', 'conversations', 'conversation', 'dialog', 'dialogue', 'chat'];

const find = (columns: string[], names: string[]) =>
  names.map((n) => columns.find((c) => c.trim().toLowerCase() === n)).find((c) => c !== undefined);

function looksLikeTurns(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (t) =>
        t !== null &&
        typeof t === 'object' &&
        ('role' in t || 'from' in t) &&
        ('content' in t || 'value' in t),
    )
  );
}

const list = (names: string[]) => names.join(', ');

export function detectMapping(
  columns: string[],
  sample: readonly Record<string, unknown>[],
  file: string,
): MappingProposal {
  const conversationColumn =
    find(columns, CONVERSATION_NAMES) ?? columns.find((c) => sample.some((r) => looksLikeTurns(r[c])));
  if (conversationColumn && sample.some((r) => looksLikeTurns(r[conversationColumn]))) {
    const first = sample.map((r) => r[conversationColumn]).find(looksLikeTurns) as Record<string, unknown>[];
    const sharegpt = first[0] !== undefined && 'from' in first[0];
    return {
      mapping: { kind: 'messages', field: conversationColumn },
      layout: sharegpt ? 'sharegpt' : 'openai',
      reason: sharegpt
        ? `The field "${conversationColumn}" holds turns with "from" and "value" (ShareGPT layout): human → user, gpt → assistant, system → system.`
        : `The field "${conversationColumn}" holds turns with "role" and "content" (OpenAI messages layout); roles are taken as written.`,
    };
  }

  const system = find(columns, SYSTEM_NAMES) ?? null;
  const assistant = find(columns, ASSISTANT_NAMES);
  const instruction = find(columns, ['instruction']);
  const input = find(columns, ['input']);
  let user: string[];
  if (instruction && input) user = [instruction, input];
  else {
    const single = find(columns, USER_NAMES);
    user = single ? [single] : [];
  }
  if (!assistant || user.length === 0) {
    throw new DataError(
      'bad-mapping',
      `${file}: Tunesmith could not tell which column holds the ${!assistant ? 'reply' : 'question'}. Its columns are: ${list(columns)}.`,
      'Name the roles with --map, e.g. --map system=system,user=question,assistant=chosen (join two columns with +: user=instruction+input).',
    );
  }
  const mapping: Mapping = { kind: 'columns', system, user, assistant };
  const used = new Set([system, ...user, assistant]);
  const unused = columns.filter((c) => !used.has(c));
  const roles = `${system ? `${system} → system prompt, ` : ''}${user.join(' + ')} → user, ${assistant} → assistant reply`;
  const layout =
    system && user[0]?.toLowerCase() === 'question' && assistant.toLowerCase() === 'chosen'
      ? 'reference'
      : instruction && input && assistant.toLowerCase() === 'output'
        ? 'alpaca'
        : user[0]?.toLowerCase() === 'prompt' && assistant.toLowerCase() === 'completion'
          ? 'prompt-completion'
          : 'columns';
  const intro = {
    reference: `Columns ${list([system ?? '', ...user, assistant])} look like the reference format`,
    alpaca:
      'Columns instruction, input, output look like the Alpaca format (instruction and input are joined into the question)',
    'prompt-completion': 'Columns prompt and completion look like the prompt/completion format',
    columns: 'Column names suggest the roles',
  }[layout];
  const rejected = unused.find((c) => c.toLowerCase() === 'rejected');
  const notes = unused.length
    ? ` Not used: ${list(unused)}${rejected ? ' (a "rejected" reply is for preference training, which Tunesmith does not do)' : ''}.`
    : '';
  return { mapping, layout, reason: `${intro}: ${roles}.${notes}` };
}

/** `system=col,user=col[+col],assistant=col` or `messages=field`. */
export function parseMapOption(text: string): Mapping {
  const parts = new Map<string, string>();
  for (const piece of text.split(',')) {
    const eq = piece.indexOf('=');
    const role = piece.slice(0, eq).trim().toLowerCase();
    const column = piece.slice(eq + 1).trim();
    if (eq < 1 || !column || !['system', 'user', 'assistant', 'messages'].includes(role)) {
      throw new DataError(
        'bad-mapping',
        `--map "${text}": "${piece}" is not role=column (roles: system, user, assistant, or messages).`,
        'Write it like --map system=system,user=question,assistant=chosen, or --map messages=conversations.',
      );
    }
    parts.set(role, column);
  }
  const messages = parts.get('messages');
  if (messages !== undefined) {
    if (parts.size > 1) {
      throw new DataError(
        'bad-mapping',
        `--map "${text}": messages= cannot be combined with other roles.`,
        'Use either messages=FIELD or system/user/assistant columns.',
      );
    }
    return { kind: 'messages', field: messages };
  }
  const user = parts.get('user');
  const assistant = parts.get('assistant');
  if (!user || !assistant) {
    throw new DataError(
      'bad-mapping',
      `--map "${text}" must name at least the user and the assistant columns.`,
      'For example --map user=question,assistant=chosen (system is optional).',
    );
  }
  return {
    kind: 'columns',
    system: parts.get('system') ?? null,
    user: user.split('+').map((c) => c.trim()),
    assistant,
  };
}

/** Every mapped column must exist in the file. */
export function checkMapping(mapping: Mapping, columns: string[], file: string): void {
  const wanted =
    mapping.kind === 'messages' ? [mapping.field] : [mapping.system, ...mapping.user, mapping.assistant];
  const missing = wanted.filter((c): c is string => c !== null && !columns.includes(c));
  if (missing.length) {
    throw new DataError(
      'bad-mapping',
      `${file} has no column ${missing.map((c) => `"${c}"`).join(', ')}. Its columns are: ${list(columns)}.`,
      'Fix the names in --map (they are case-sensitive), or leave --map out to let Tunesmith propose one.',
    );
  }
}

export function describeMapping(mapping: Mapping): string {
  if (mapping.kind === 'messages') return `messages=${mapping.field}`;
  return [
    mapping.system && `system=${mapping.system}`,
    `user=${mapping.user.join('+')}`,
    `assistant=${mapping.assistant}`,
  ]
    .filter(Boolean)
    .join(',');
}

const SHAREGPT_ROLES: Record<string, string> = {
  human: 'user',
  user: 'user',
  gpt: 'assistant',
  chatgpt: 'assistant',
  bot: 'assistant',
  model: 'assistant',
  assistant: 'assistant',
  system: 'system',
};

/** Cell or field text; Windows line breaks (CSV from Excel) become \n, as the model will see them. */
function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value.includes('\r') ? value.replace(/\r\n?/g, '\n') : value;
  if (Array.isArray(value)) {
    // OpenAI content parts: keep the text parts.
    return value
      .map((p) => (p && typeof p === 'object' && 'text' in p ? text((p as { text: unknown }).text) : text(p)))
      .join('');
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The conversation a record holds under `mapping`. Nothing is dropped: odd roles are kept as written. */
export function toMessages(record: Record<string, unknown>, mapping: Mapping): ImportedMessage[] {
  if (mapping.kind === 'columns') {
    const messages: ImportedMessage[] = [];
    const system = mapping.system === null ? '' : text(record[mapping.system]);
    if (system.trim()) messages.push({ role: 'system', content: system });
    const user = mapping.user
      .map((c) => text(record[c]))
      .filter((part) => part.trim() !== '')
      .join('\n\n');
    messages.push({ role: 'user', content: user });
    messages.push({ role: 'assistant', content: text(record[mapping.assistant]) });
    return messages;
  }
  const turns = record[mapping.field];
  if (!Array.isArray(turns)) return [];
  return turns.map((turn) => {
    const t = (turn ?? {}) as Record<string, unknown>;
    if ('from' in t && !('role' in t)) {
      const from = text(t.from).trim();
      return { role: SHAREGPT_ROLES[from.toLowerCase()] ?? from, content: text(t.value ?? t.content) };
    }
    const role = text(t.role).trim();
    return {
      role: isRole(role.toLowerCase()) ? role.toLowerCase() : role,
      content: text(t.content ?? t.value),
    };
  });
}
