// Ollama folder (formats.md §6): Modelfile (FROM, ADAPTER, TEMPLATE, PARAMETER stop) + README.
// The TEMPLATE is derived from our own chat template, so Ollama renders exactly what training saw:
// we render conversations with sentinel contents and read off the text between turns for each pair
// of adjacent roles (start→system, system→user, user→assistant, assistant→user, …) and before the
// reply. The Go template then emits, per message, the boundary chosen by the previous role. A
// system prompt (SYSTEM line or API) reaches it as a system message in .Messages.
import type { Conversation, Role } from '../data/conversation.js';
import { type ChatTemplate, renderedText } from '../data/template/index.js';

/** Architectures Ollama runs on its Go engine, which cannot apply adapters (§6.2). */
export const OLLAMA_GO_ENGINE_ARCHS = [
  'gemma3',
  'gemma3n',
  'llama4',
  'mistral3',
  'mllama',
  'qwen3',
  'qwen3moe',
  'qwen25vl',
  'qwen3vl',
  'gptoss',
];

export function ollamaAdapterProblem(ggufArch: string): string | null {
  return OLLAMA_GO_ENGINE_ARCHS.includes(ggufArch)
    ? `Ollama runs ${ggufArch} models on its own engine, which cannot apply LoRA adapters ("loras are not yet implemented"), so the adapter is merged into the model instead`
    : null;
}

type Prev = Role | 'start';
export interface TemplateBoundaries {
  /** Text before a message's content, by the previous message's role (or 'start'). */
  before: Partial<Record<Prev, Partial<Record<Role, string>>>>;
  /** Text after the last message (a user turn) up to where the reply starts. */
  replyPrefix: string;
}

const S = (i: number) => `\u0001${i}\u0002`;

/** Splits a rendering of sentinel contents into the text before each message. */
function between(template: ChatTemplate, roles: Role[]): string[] {
  const messages: Conversation = roles.map((role, i) => ({ role, content: S(i) }));
  const withReply =
    roles.at(-1) === 'assistant'
      ? messages
      : [...messages, { role: 'assistant' as const, content: S(roles.length) }];
  const text = renderedText(template.render(withReply));
  const out: string[] = [];
  let at = 0;
  for (let i = 0; i < withReply.length; i++) {
    const k = text.indexOf(S(i), at);
    if (k < 0) throw new Error(`the ${template.name} template drops a message`);
    out.push(text.slice(at, k));
    at = k + S(i).length;
  }
  return out;
}

export function templateBoundaries(template: ChatTemplate): TemplateBoundaries {
  const b: TemplateBoundaries = { before: {}, replyPrefix: '' };
  const set = (prev: Prev, role: Role, text: string) => {
    b.before[prev] ??= {};
    const row = b.before[prev];
    const known = row[role];
    if (known !== undefined && known !== text)
      throw new Error(
        `the ${template.name} template's text before a ${role} turn depends on more than the previous turn`,
      );
    row[role] = text;
  };
  // Every sample ends with a user turn: its assistant turns are history (as in Ollama's .Messages),
  // and the text after the last user turn is the reply prefix (templates may render the two apart).
  for (const roles of [
    ['user', 'assistant', 'user'],
    ['system', 'user', 'assistant', 'user'],
  ] as Role[][]) {
    const parts = between(template, roles);
    for (const [i, role] of roles.entries()) set(i === 0 ? 'start' : roles[i - 1]!, role, parts[i]!);
    const prefix = parts.at(-1)!;
    if (b.replyPrefix && b.replyPrefix !== prefix)
      throw new Error(`the ${template.name} template's reply prompt depends on the system turn`);
    b.replyPrefix = prefix;
  }
  return b;
}

const goString = (s: string) => JSON.stringify(s); // Go string literals accept JSON's escapes

/** A Go text/template (Ollama TEMPLATE) that renders `.System` + `.Messages` like `template`. */
export function ollamaTemplate(template: ChatTemplate, stripLeading = ''): string {
  const b = templateBoundaries(template);
  const branches: string[] = [];
  for (const [prev, row] of Object.entries(b.before)) {
    for (const [role, text] of Object.entries(row ?? {})) {
      const t = prev === 'start' && text.startsWith(stripLeading) ? text.slice(stripLeading.length) : text;
      branches.push(
        `{{- if and (eq $prev ${goString(prev)}) (eq .Role ${goString(role)}) }}{{ ${goString(t)} }}{{ end }}`,
      );
    }
  }
  return [
    '{{- $prev := "start" }}',
    '{{- range .Messages }}',
    ...branches,
    '{{- .Content }}{{- $prev = .Role }}',
    '{{- end }}',
    `{{- if eq $prev "user" }}{{ ${goString(b.replyPrefix)} }}{{ end }}`,
  ].join('\n');
}

/** What the TEMPLATE renders, computed from the boundaries (the Go template follows the same table). */
export function renderWithBoundaries(b: TemplateBoundaries, messages: Conversation): string {
  let prev: Prev = 'start';
  let out = '';
  for (const m of messages) {
    const text = b.before[prev]?.[m.role];
    if (text === undefined) throw new Error(`no boundary from ${prev} to ${m.role}`);
    out += text + m.content;
    prev = m.role;
  }
  return prev === 'user' ? out + b.replyPrefix : out;
}

export interface ModelfileOptions {
  from: string;
  adapter?: string;
  template: ChatTemplate;
  stop: string[];
  /** Text Ollama's runner adds itself (the BOS token), left out of the TEMPLATE. */
  bosText?: string;
}

export function modelfile(o: ModelfileOptions): string {
  const lines = [`FROM ${o.from}`];
  if (o.adapter) lines.push(`ADAPTER ${o.adapter}`);
  lines.push(`TEMPLATE """${ollamaTemplate(o.template, o.bosText ?? '')}"""`);
  for (const s of o.stop) lines.push(`PARAMETER stop ${JSON.stringify(s)}`);
  return `${lines.join('\n')}\n`;
}

export function ollamaReadme(name: string, note?: string): string {
  return [
    `# ${name} for Ollama`,
    '',
    'Create the model once, then chat with it:',
    '',
    '```',
    `ollama create ${name} -f Modelfile`,
    `ollama run ${name}`,
    '```',
    '',
    ...(note ? [note, ''] : []),
    'The TEMPLATE renders conversations exactly as Tunesmith did during training; the stop',
    'parameters end a reply at its end-of-turn token.',
    '',
  ].join('\n');
}
