// Errors of the data path. Each names the file and, where it can, the line or row, and says what to
// do; they cross the API as plain data ({code, message, hint}).

export type DataErrorCode =
  | 'file-not-found'
  | 'empty-file'
  | 'binary-file'
  | 'unsupported-encoding'
  | 'unsupported-format'
  | 'unbalanced-quotes'
  | 'bad-csv'
  | 'bad-json'
  | 'bad-parquet'
  | 'cell-too-large'
  | 'bad-mapping'
  | 'bad-option'
  | 'no-examples'
  | 'not-found'
  | 'bad-edit'
  | 'dataset-has-errors';

export class DataError extends Error {
  override readonly name = 'DataError';
  readonly code: DataErrorCode;
  readonly hint: string;

  constructor(code: DataErrorCode, message: string, hint: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.hint = hint;
  }

  toJSON() {
    return { code: this.code, message: this.message, hint: this.hint };
  }
}

/** The largest single cell (CSV) or line/element (JSONL/JSON) accepted: bigger is almost surely a broken file. */
export const MAX_CELL_CHARS = 10 * 1024 * 1024;
export const MAX_RECORD_CHARS = 16 * 1024 * 1024;

export const mib = (chars: number) => `${Math.round(chars / (1024 * 1024))} MB`;
