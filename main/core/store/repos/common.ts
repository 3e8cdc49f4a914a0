// Small helpers the repositories share: JSON columns in and out, the clock, errors stored as data.

/** An error as stored in `runs.error` and `exports.error`: data, never a class instance. */
export interface ErrorData {
  code: string;
  message: string;
  hint?: string;
  details?: unknown;
}

export type Clock = () => number;

export interface ListOptions {
  /** At most this many rows. Default 50. */
  limit?: number;
}

export function toJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('Cannot store undefined or a function as JSON.');
  return text;
}

export function toJsonOrNull(value: unknown): string | null {
  return value === undefined || value === null ? null : toJson(value);
}

export function fromJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function fromJsonOrNull<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

/** SQLite has no boolean: 0/1 in INTEGER columns. */
export const toFlag = (value: boolean): 0 | 1 => (value ? 1 : 0);
