// Errors of the exporters: a kebab-case code, a message that names the file, and a hint to act on.
export class ExportError extends Error {
  override readonly name = 'ExportError';
  constructor(
    readonly code: string,
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}
