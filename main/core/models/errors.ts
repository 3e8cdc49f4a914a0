// Errors about a model folder as a whole (its config, tokenizer, or the folder itself). Same shape
// as the store's and the formats' errors: a stable code, a message naming the file, and a hint.

export type ModelErrorCode =
  | 'not-a-folder' // the path is missing or not a directory
  | 'bad-config' // config.json is missing, not JSON, or a field is wrong
  | 'unsupported-architecture' // model_type is not one the engine trains
  | 'tokenizer-missing' // a tokenizer package or file is not there
  | 'target-not-empty'; // refusing to write into a folder that holds something

export interface ModelErrorData {
  code: ModelErrorCode;
  message: string;
  hint: string;
  path: string;
}

export class ModelError extends Error implements ModelErrorData {
  override readonly name = 'ModelError';
  readonly code: ModelErrorCode;
  readonly hint: string;
  readonly path: string;

  constructor(data: ModelErrorData, options?: { cause?: unknown }) {
    super(data.message, options);
    this.code = data.code;
    this.hint = data.hint;
    this.path = data.path;
  }

  toJSON(): ModelErrorData {
    return { code: this.code, message: this.message, hint: this.hint, path: this.path };
  }
}

export function modelError(code: ModelErrorCode, path: string, what: string, hint: string): ModelError {
  return new ModelError({ code, path, hint, message: `${what} ${hint}` });
}
