// Errors the binary-format readers and writers throw. Each names the file, says what is wrong in
// plain words and carries a `hint` (the action alone), so the CLI, server and app can pass it on as data.

export type FormatErrorCode =
  | 'truncated' // the file ends before what its header promises
  | 'bad-header' // the header is not what the format requires (length, JSON, fields)
  | 'bad-tensor' // one tensor entry is inconsistent (dtype, shape, offsets)
  | 'bad-index' // a sharded checkpoint's index disagrees with its shards
  | 'not-found' // a file or tensor that should be there is not
  | 'write-failed'; // a writer could not finish; nothing was left at the target path

export interface FormatErrorData {
  code: FormatErrorCode;
  message: string;
  hint: string;
  path: string;
}

export class FormatError extends Error implements FormatErrorData {
  override readonly name = 'FormatError';
  readonly code: FormatErrorCode;
  readonly hint: string;
  readonly path: string;

  constructor(data: FormatErrorData, options?: { cause?: unknown }) {
    super(data.message, options);
    this.code = data.code;
    this.hint = data.hint;
    this.path = data.path;
  }

  toJSON(): FormatErrorData {
    return { code: this.code, message: this.message, hint: this.hint, path: this.path };
  }
}

const DAMAGED_HINT =
  'The file is damaged or was not written completely: download or export it again (compare its size with the source).';

/** A file whose bytes disagree with its own header: the usual cause is an interrupted download. */
export function damagedFile(code: FormatErrorCode, path: string, what: string): FormatError {
  return new FormatError({ code, path, hint: DAMAGED_HINT, message: `${path}: ${what}. ${DAMAGED_HINT}` });
}
