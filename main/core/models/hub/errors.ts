// Errors of the model library and its Hub downloads: a stable code, a message that names the model,
// file or folder, and a hint that says what to do. Never carries the access token.

export type LibraryErrorCode =
  | 'bad-repo-id' // not "owner/name"
  | 'bad-token' // the access token is not shaped like a Hugging Face token
  | 'hub-unreachable' // no connection to the endpoint (offline, DNS, refused, timed out)
  | 'hub-auth-required' // 401: gated or private, or not there, and no (valid) token
  | 'hub-forbidden' // 403: the token has no access (licence not accepted)
  | 'hub-not-found' // 404: no such repository, revision or file
  | 'hub-error' // any other answer from the Hub
  | 'no-safetensors' // the repository has no safetensors weights
  | 'download-interrupted' // the connection dropped or stalled mid-file
  | 'download-cancelled' // the person cancelled
  | 'download-busy' // another process is downloading into the same folder
  | 'hash-mismatch' // a file kept failing its hash check
  | 'disk-full' // not enough free space, before or during the download
  | 'model-not-usable' // a folder the engine cannot load
  | 'already-added' // that folder is in the library already
  | 'model-not-found'; // no model with that id

export interface LibraryErrorData {
  code: LibraryErrorCode;
  message: string;
  hint: string;
}

export class LibraryError extends Error implements LibraryErrorData {
  override readonly name = 'LibraryError';
  readonly code: LibraryErrorCode;
  readonly hint: string;

  constructor(data: LibraryErrorData, options?: { cause?: unknown }) {
    super(data.message, options);
    this.code = data.code;
    this.hint = data.hint;
  }

  toJSON(): LibraryErrorData {
    return { code: this.code, message: this.message, hint: this.hint };
  }
}

/** `what` is the problem, `hint` what to do; the message carries both, like the other core errors. */
export function libraryError(
  code: LibraryErrorCode,
  what: string,
  hint: string,
  options?: { cause?: unknown },
): LibraryError {
  return new LibraryError({ code, hint, message: `${what} ${hint}` }, options);
}
