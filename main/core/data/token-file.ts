// The token file: a dataset version tokenized for one (tokenizer, template, max length, too-long
// choice), cached under the home folder's cache/tokens/ and reused while those stay the same.
//
// Layout (little-endian), N examples, T tokens:
//   0   8 B   magic "TSTOKENS"
//   8   u32   format version (1)
//   12  u32   N
//   16  u32   T (so at most 2^32-1 tokens per file)
//   20  u32   max length the file was built for
//   24  32 B  sha256 of the cache key (a file found under another key's name is rejected)
//   56  8 B   reserved, zero
//   64  i32 × T   token ids, all examples back to back
//   …   u8 × T    trained flags (1 = in the loss), by position
//   …   0–3 B     zero padding to a multiple of 4
//   …   u32 × (N+1) example offsets into the token arrays (first 0, last T)
//   …   u32 × N   each example's 0-based position in the dataset version (excluded ones are absent)
// Written to a temp file, fsynced and renamed into place, so a reader sees a whole file or none.
// A reader checks the size against the header, the offsets and the flags; a bad file is rebuilt.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import type { AuditReport, ExampleInput, LabelAuditor } from './audit.js';
import { checkExample } from './validate.js';

export const TOKEN_FILE_MAGIC = 'TSTOKENS';
export const TOKEN_FILE_VERSION = 1;
const HEADER_BYTES = 64;
const KEY_OFFSET = 24;

export interface TokenFileKey {
  /** The dataset version, or a content hash for data not stored as a version. */
  dataset: string;
  tokenizerHash: string;
  template: string;
  maxLen: number;
  tooLong: string;
}

export interface TokenFile {
  path: string;
  maxLen: number;
  examples: number;
  tokens: Int32Array;
  trained: Uint8Array;
  /** N+1 offsets: example i is tokens[offsets[i] .. offsets[i+1]). */
  offsets: Uint32Array;
  /** Position of each example in its dataset version. */
  ordinals: Uint32Array;
}

export class TokenFileError extends Error {
  override readonly name = 'TokenFileError';
  readonly code = 'token-file-invalid';
}

export function tokenFileKeyHash(key: TokenFileKey): string {
  const canonical = JSON.stringify([
    TOKEN_FILE_VERSION,
    key.dataset,
    key.tokenizerHash,
    key.template,
    key.maxLen,
    key.tooLong,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

export function tokenFilePath(cacheDir: string, key: TokenFileKey): string {
  return path.join(cacheDir, 'tokens', `${tokenFileKeyHash(key)}.tokens`);
}

export const exampleLength = (file: TokenFile, i: number): number => file.offsets[i + 1]! - file.offsets[i]!;

/** Streams examples into a token file at `finalPath` (temp file + rename on finish). */
export class TokenFileWriter {
  readonly #finalPath: string;
  readonly #tempPath: string;
  readonly #flagsPath: string;
  readonly #keyHash: Buffer;
  readonly #maxLen: number;
  #fd: number;
  #flagsFd: number;
  #tokenBuf = Buffer.alloc(1 << 20);
  #tokenUsed = 0;
  #flagBuf = Buffer.alloc(1 << 18);
  #flagUsed = 0;
  #offsets = new Uint32Array(1024);
  #ordinals = new Uint32Array(1024);
  #examples = 0;
  #tokens = 0;

  constructor(finalPath: string, key: TokenFileKey) {
    mkdirSync(path.dirname(finalPath), { recursive: true });
    this.#finalPath = finalPath;
    const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
    this.#tempPath = `${finalPath}.tmp-${suffix}`;
    this.#flagsPath = `${finalPath}.flags-${suffix}`;
    this.#keyHash = Buffer.from(tokenFileKeyHash(key), 'hex');
    this.#maxLen = key.maxLen;
    this.#fd = openSync(this.#tempPath, 'w');
    this.#flagsFd = openSync(this.#flagsPath, 'w+');
    writeSync(this.#fd, Buffer.alloc(HEADER_BYTES));
  }

  add(ordinal: number, ids: Int32Array, trained: Uint8Array): void {
    if (this.#tokens + ids.length > 0xffffffff) {
      throw new TokenFileError('The dataset has more than 4 billion tokens, more than one token file holds.');
    }
    if (this.#examples + 2 > this.#offsets.length) {
      this.#offsets = grow(this.#offsets);
      this.#ordinals = grow(this.#ordinals);
    }
    this.#ordinals[this.#examples] = ordinal;
    for (let i = 0; i < ids.length; i++) {
      if (this.#tokenUsed === this.#tokenBuf.length) this.#flushTokens();
      this.#tokenBuf.writeInt32LE(ids[i]!, this.#tokenUsed);
      this.#tokenUsed += 4;
      if (this.#flagUsed === this.#flagBuf.length) this.#flushFlags();
      this.#flagBuf[this.#flagUsed++] = trained[i]!;
    }
    this.#tokens += ids.length;
    this.#examples++;
    this.#offsets[this.#examples] = this.#tokens;
  }

  /** Completes the file and moves it into place; returns its path. */
  finish(): string {
    try {
      this.#flushTokens();
      this.#flushFlags();
      // Append the flags from their side file.
      const chunk = Buffer.alloc(1 << 20);
      for (let at = 0; at < this.#tokens; ) {
        const n = readSync(this.#flagsFd, chunk, 0, Math.min(chunk.length, this.#tokens - at), at);
        if (n <= 0) throw new TokenFileError('The temporary flags file ended early.');
        writeSync(this.#fd, chunk, 0, n);
        at += n;
      }
      const pad = (4 - ((HEADER_BYTES + 5 * this.#tokens) % 4)) % 4;
      if (pad) writeSync(this.#fd, Buffer.alloc(pad));
      writeSync(this.#fd, Buffer.from(this.#offsets.buffer, 0, 4 * (this.#examples + 1)));
      writeSync(this.#fd, Buffer.from(this.#ordinals.buffer, 0, 4 * this.#examples));
      const header = Buffer.alloc(HEADER_BYTES);
      header.write(TOKEN_FILE_MAGIC, 0, 'latin1');
      header.writeUInt32LE(TOKEN_FILE_VERSION, 8);
      header.writeUInt32LE(this.#examples, 12);
      header.writeUInt32LE(this.#tokens, 16);
      header.writeUInt32LE(this.#maxLen, 20);
      this.#keyHash.copy(header, KEY_OFFSET);
      writeSync(this.#fd, header, 0, HEADER_BYTES, 0);
      fsyncSync(this.#fd);
      closeSync(this.#fd);
      this.#fd = -1;
      renameSync(this.#tempPath, this.#finalPath);
      return this.#finalPath;
    } finally {
      this.abort();
    }
  }

  /** Removes the temporary files (the final file, if already renamed, stays). */
  abort(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    if (this.#flagsFd >= 0) closeSync(this.#flagsFd);
    this.#fd = -1;
    this.#flagsFd = -1;
    rmSync(this.#tempPath, { force: true });
    rmSync(this.#flagsPath, { force: true });
  }

  #flushTokens(): void {
    if (this.#tokenUsed) writeSync(this.#fd, this.#tokenBuf, 0, this.#tokenUsed);
    this.#tokenUsed = 0;
  }

  #flushFlags(): void {
    if (this.#flagUsed) writeSync(this.#flagsFd, this.#flagBuf, 0, this.#flagUsed);
    this.#flagUsed = 0;
  }
}

function grow(array: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> {
  const bigger = new Uint32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

/** Reads and checks a token file; TokenFileError says what is wrong with it. */
export function readTokenFile(file: string, key?: TokenFileKey): TokenFile {
  const data = readFileSync(file);
  const bad = (why: string) =>
    new TokenFileError(`The token file ${file} is damaged (${why}); it will be rebuilt.`);
  if (data.length < HEADER_BYTES || data.toString('latin1', 0, 8) !== TOKEN_FILE_MAGIC)
    throw bad('not a token file');
  const version = data.readUInt32LE(8);
  if (version !== TOKEN_FILE_VERSION) throw bad(`format version ${version}, expected ${TOKEN_FILE_VERSION}`);
  const examples = data.readUInt32LE(12);
  const tokens = data.readUInt32LE(16);
  const maxLen = data.readUInt32LE(20);
  if (key && !data.subarray(KEY_OFFSET, KEY_OFFSET + 32).equals(Buffer.from(tokenFileKeyHash(key), 'hex'))) {
    throw bad('it was built for other settings');
  }
  const flagsAt = HEADER_BYTES + 4 * tokens;
  const offsetsAt = flagsAt + tokens + ((4 - ((HEADER_BYTES + 5 * tokens) % 4)) % 4);
  const ordinalsAt = offsetsAt + 4 * (examples + 1);
  const size = ordinalsAt + 4 * examples;
  if (data.length !== size) throw bad(`${data.length} bytes, the header implies ${size}`);
  // Copy when the buffer is not 4-byte aligned (small files come from Node's shared pool).
  const bytes = data.byteOffset % 4 === 0 ? data : Buffer.from(data);
  const view = <T>(make: new (b: ArrayBuffer, o: number, n: number) => T, at: number, n: number) =>
    new make(bytes.buffer as ArrayBuffer, bytes.byteOffset + at, n);
  const result: TokenFile = {
    path: file,
    maxLen,
    examples,
    tokens: view(Int32Array, HEADER_BYTES, tokens),
    trained: view(Uint8Array, flagsAt, tokens),
    offsets: view(Uint32Array, offsetsAt, examples + 1),
    ordinals: view(Uint32Array, ordinalsAt, examples),
  };
  if (result.offsets[0] !== 0 || result.offsets[examples] !== tokens)
    throw bad('example offsets do not cover the tokens');
  for (let i = 0; i < examples; i++) {
    if (result.offsets[i + 1]! < result.offsets[i]!)
      throw bad(`example offsets go backwards at example ${i + 1}`);
  }
  for (let i = 0; i < tokens; i++) {
    if (result.trained[i]! > 1) throw bad(`trained flag ${result.trained[i]} at token ${i}`);
  }
  return result;
}

export interface PreparedTokens {
  /** The token file, or null when the audit found blocking problems (nothing is written then). */
  file: TokenFile | null;
  report: AuditReport;
  /** True when a valid cached file was reused. */
  reused: boolean;
}

/**
 * The token file for `key`: the cached one when it is valid, else built by running every example
 * through the validation rules and `auditor`, as `data check` does (the audit report is stored next
 * to the file). Damaged files are rebuilt.
 */
export async function prepareTokenFile(options: {
  cacheDir: string;
  key: TokenFileKey;
  auditor: () => LabelAuditor;
  examples: () => Iterable<ExampleInput> | AsyncIterable<ExampleInput>;
}): Promise<PreparedTokens> {
  const file = tokenFilePath(options.cacheDir, options.key);
  const reportFile = `${file.slice(0, -'.tokens'.length)}.audit.json`;
  if (existsSync(file) && existsSync(reportFile)) {
    try {
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as AuditReport;
      return { file: readTokenFile(file, options.key), report, reused: true };
    } catch {
      rmSync(file, { force: true });
    }
  }
  const auditor = options.auditor();
  const writer = new TokenFileWriter(file, options.key);
  try {
    for await (const example of options.examples()) {
      const validation = checkExample({
        ordinal: example.ordinal,
        messages: example.messages,
        ...(example.location && { location: example.location }),
      });
      const audited = auditor.add(example, validation);
      if (audited) writer.add(example.ordinal, audited.tokens.ids, audited.tokens.trained);
    }
  } catch (err) {
    writer.abort();
    throw err;
  }
  const report = auditor.report();
  if (!report.ok) {
    writer.abort();
    return { file: null, report, reused: false };
  }
  const tempReport = `${reportFile}.tmp-${process.pid}`;
  writeFileSync(tempReport, JSON.stringify(report));
  renameSync(tempReport, reportFile);
  writer.finish();
  return { file: readTokenFile(file, options.key), report, reused: false };
}

export class TrainingBlockedError extends Error {
  override readonly name = 'TrainingBlockedError';
  readonly code = 'dataset-blocked';
  constructor(
    message: string,
    readonly hint: string,
    readonly examples: number[],
  ) {
    super(message);
  }
}

/** The token file, or an error naming the examples whose problems stop training. */
export function requireTokenFile(prepared: PreparedTokens): TokenFile {
  if (prepared.file) return prepared.file;
  const { report } = prepared;
  const examples = [...new Set(report.issues.filter((i) => i.blocking).map((i) => i.example))];
  const listed = examples.slice(0, 20);
  const more =
    report.blockingCount > listed.length ? ` and ${report.blockingCount - listed.length} more problems` : '';
  throw new TrainingBlockedError(
    report.kept === 0 && report.blockingCount === 0
      ? 'No example is left to train on.'
      : `Training cannot start: ${report.blockingCount === 1 ? 'a problem' : `${report.blockingCount} problems`} in example${listed.length === 1 ? '' : 's'} ${listed.join(', ')}${more}.`,
    'Run `tunesmith data check` with the same model and template to see each problem and what to do.',
    examples,
  );
}
