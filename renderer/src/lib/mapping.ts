// The column mapping of a dataset as the import returns it (`mapping: unknown` in the contract, the
// shape of main/core/data/import/mapping.ts) and the `map` text a re-import takes.
export type ColumnMapping =
  | { kind: 'columns'; system: string | null; user: string[]; assistant: string }
  | { kind: 'messages'; field: string };

export function readMapping(value: unknown): ColumnMapping | null {
  if (typeof value !== 'object' || value === null) return null;
  const m = value as Record<string, unknown>;
  if (m.kind === 'messages' && typeof m.field === 'string') return { kind: 'messages', field: m.field };
  if (
    m.kind === 'columns' &&
    typeof m.assistant === 'string' &&
    Array.isArray(m.user) &&
    m.user.every((c) => typeof c === 'string')
  ) {
    return {
      kind: 'columns',
      system: typeof m.system === 'string' ? m.system : null,
      user: m.user as string[],
      assistant: m.assistant,
    };
  }
  return null;
}

/** `system=col,user=col[+col],assistant=col` or `messages=field`. */
export function mapText(mapping: ColumnMapping): string {
  if (mapping.kind === 'messages') return `messages=${mapping.field}`;
  return [
    mapping.system ? `system=${mapping.system}` : null,
    `user=${mapping.user.join('+')}`,
    `assistant=${mapping.assistant}`,
  ]
    .filter(Boolean)
    .join(',');
}

/** The columns named in an import error ("… Its columns are: a, b, c."), to offer them as choices. */
export function columnsFromMessage(message: string): string[] {
  const match = /Its columns are: (.*?)\.?$/.exec(message);
  return match?.[1] ? match[1].split(', ').filter(Boolean) : [];
}
