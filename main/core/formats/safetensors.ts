// safetensors reader and writer (formats.md §5).
//
//   [u64 LE N] [N bytes UTF-8 JSON header, space-padded] [data buffer]
//   header: { "__metadata__"?: {string: string}, "<name>": {dtype, shape, data_offsets: [begin, end)} }
//   offsets are relative to the data buffer (file offset 8 + N); tensors tile the buffer exactly:
//   sorted by offset they start at 0, leave no gap, never overlap, and the last one ends at the file's end.
//
// The reader checks every one of those rules against the file size before handing out a tensor, and
// reads only the header up front: tensor bytes come later by positioned reads, one tensor (or one
// chunk) at a time. The writer streams tensors one by one into a temporary file and renames it into
// place, so memory stays at about one tensor and a failed write leaves nothing at the target path.
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { damagedFile, FormatError } from './errors.js';

/** Bytes per element. F4/F6 (sub-byte) types exist in newer files but no supported model uses them. */
export const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

/** The reference reader's limit ("HeaderTooLarge"); a real model header is well under 1 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Offsets within the data buffer, end exclusive. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  path: string;
  fileSize: number;
  /** N, the JSON header's byte length (padding included). */
  headerLength: number;
  /** File offset of the data buffer: 8 + N. */
  dataOffset: number;
  metadata: Record<string, string>;
  /** In file order (sorted by offset). */
  tensors: TensorInfo[];
}

export function isSafetensorsDtype(value: string): value is SafetensorsDtype {
  return Object.hasOwn(DTYPE_BYTES, value);
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Parse and check a header given the file's size and the header's bytes (no I/O; tests use it too). */
export function parseSafetensorsHeader(
  path: string,
  fileSize: number,
  headerBytes: Uint8Array,
): SafetensorsHeader {
  const headerLength = headerBytes.length;
  const dataOffset = 8 + headerLength;
  const dataLength = fileSize - dataOffset;
  const bad = (what: string) => damagedFile('bad-header', path, what);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw bad('the header is not valid UTF-8 text, so this is not a safetensors file');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw bad(`the header is not valid JSON (${(err as Error).message}), so this is not a safetensors file`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw bad('the header is JSON but not an object of tensors');
  }
  const duplicate = firstDuplicateTopLevelKey(text);
  if (duplicate !== undefined) throw bad(`the header names "${duplicate}" twice`);

  let metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(path, entry);
      continue;
    }
    tensors.push(parseTensorEntry(path, name, entry));
  }

  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous: TensorInfo | undefined;
  for (const t of tensors) {
    if (t.begin < expected) {
      throw damagedFile(
        'bad-tensor',
        path,
        `tensors "${previous?.name}" (bytes ${previous?.begin}–${previous?.end}) and "${t.name}" (bytes ${t.begin}–${t.end}) overlap`,
      );
    }
    if (t.begin > expected) {
      throw damagedFile(
        'bad-tensor',
        path,
        `${t.begin - expected} unused bytes before tensor "${t.name}" (at data offset ${expected}); safetensors tensors must be packed with no gaps`,
      );
    }
    if (t.end > dataLength) {
      throw damagedFile(
        'truncated',
        path,
        `tensor "${t.name}" ends at data byte ${t.end} but the file holds only ${Math.max(0, dataLength)} data bytes (file size ${fileSize})`,
      );
    }
    expected = t.end;
    previous = t;
  }
  if (expected !== dataLength) {
    throw damagedFile(
      'bad-header',
      path,
      `${dataLength - expected} bytes after the last tensor are not described by the header (the tensors end at data byte ${expected}, the file at ${dataLength})`,
    );
  }
  return { path, fileSize, headerLength, dataOffset, metadata, tensors };
}

function parseMetadata(path: string, entry: unknown): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw damagedFile('bad-header', path, '"__metadata__" must be an object of strings');
  }
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== 'string') {
      throw damagedFile(
        'bad-header',
        path,
        `"__metadata__.${key}" must be a string, not ${JSON.stringify(value)}`,
      );
    }
  }
  return entry as Record<string, string>;
}

function parseTensorEntry(path: string, name: string, entry: unknown): TensorInfo {
  const bad = (what: string) => damagedFile('bad-tensor', path, `tensor "${name}": ${what}`);
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    throw bad('its entry is not an object');
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string') throw bad('"dtype" is missing or not a string');
  if (!isSafetensorsDtype(dtype)) {
    throw bad(
      `dtype "${dtype}" is not one Tunesmith reads (known: ${Object.keys(DTYPE_BYTES).join(', ')}); convert the model to F32, F16 or BF16`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount))
    throw bad('"shape" must be a list of whole numbers ≥ 0');
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw bad('"data_offsets" must be two whole numbers [begin, end]');
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw bad(`"data_offsets" end ${end} is before begin ${begin}`);
  // BigInt: a hostile shape like [2^40, 2^40] must not round to a plausible byte count.
  const wanted = (shape as number[]).reduce((n, d) => n * BigInt(d), 1n) * BigInt(DTYPE_BYTES[dtype]);
  if (wanted !== BigInt(end - begin)) {
    throw bad(
      `shape [${shape.join(', ')}] of ${dtype} needs ${wanted} bytes but "data_offsets" span ${end - begin} bytes`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** JSON.parse keeps the last of two equal keys; the format forbids them, so look at the raw text. */
function firstDuplicateTopLevelKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1) {
        let k = j + 1;
        while (k < text.length && /\s/.test(text[k] ?? '')) k++;
        if (text[k] === ':') {
          const key = JSON.parse(text.slice(i, j + 1)) as string;
          if (seen.has(key)) return key;
          seen.add(key);
        }
      }
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return undefined;
}

/** Reads and checks only the header, through a file handle; the data is not touched. */
async function readHeader(handle: FileHandle, path: string): Promise<SafetensorsHeader> {
  const { size: fileSize } = await handle.stat();
  if (fileSize < 8) {
    throw damagedFile('truncated', path, `the file is ${fileSize} bytes, too short for a safetensors header`);
  }
  const prefix = Buffer.alloc(8);
  await readExactly(handle, prefix, 0);
  const declared = prefix.readBigUInt64LE(0);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw damagedFile(
      'bad-header',
      path,
      `the header claims to be ${declared} bytes long, more than the ${MAX_HEADER_BYTES}-byte limit, so this is not a safetensors file`,
    );
  }
  const headerLength = Number(declared);
  if (8 + headerLength > fileSize) {
    throw damagedFile(
      'truncated',
      path,
      `the header claims ${headerLength} bytes but the file is only ${fileSize} bytes long`,
    );
  }
  const headerBytes = Buffer.alloc(headerLength);
  await readExactly(handle, headerBytes, 8);
  return parseSafetensorsHeader(path, fileSize, headerBytes);
}

async function readExactly(handle: FileHandle, buffer: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesRead } = await handle.read(buffer, done, buffer.length - done, position + done);
    if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
}

/** An open safetensors file: a checked header plus positioned reads of single tensors. */
export class SafetensorsReader {
  private readonly byName: Map<string, TensorInfo>;

  private constructor(
    private readonly handle: FileHandle,
    readonly header: SafetensorsHeader,
  ) {
    this.byName = new Map(header.tensors.map((t) => [t.name, t]));
  }

  static async open(path: string): Promise<SafetensorsReader> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      throw new FormatError(
        {
          code: 'not-found',
          path,
          message: `${path}: cannot open the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`,
          hint: 'Check the path and that the file is readable.',
        },
        { cause: err },
      );
    }
    try {
      return new SafetensorsReader(handle, await readHeader(handle, path));
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get path(): string {
    return this.header.path;
  }

  get tensors(): TensorInfo[] {
    return this.header.tensors;
  }

  tensor(name: string): TensorInfo {
    const info = this.byName.get(name);
    if (!info) {
      throw new FormatError({
        code: 'not-found',
        path: this.path,
        message: `${this.path} has no tensor named "${name}".`,
        hint: 'Check that the file belongs to this model.',
      });
    }
    return info;
  }

  /** One tensor's raw little-endian bytes (memory: that tensor only). */
  async readBytes(name: string): Promise<Buffer> {
    const info = this.tensor(name);
    const bytes = Buffer.alloc(info.end - info.begin);
    await this.readAt(bytes, info.begin);
    return bytes;
  }

  /** One tensor's bytes in chunks of at most `chunkBytes` (memory: one chunk). */
  async *readChunks(name: string, chunkBytes = 1 << 20): AsyncGenerator<Buffer> {
    const info = this.tensor(name);
    for (let at = info.begin; at < info.end; at += chunkBytes) {
      const chunk = Buffer.alloc(Math.min(chunkBytes, info.end - at));
      await this.readAt(chunk, at);
      yield chunk;
    }
  }

  /** One floating-point tensor's values widened to float32. */
  async readFloat32(name: string): Promise<Float32Array> {
    const info = this.tensor(name);
    return toFloat32(info.dtype, await this.readBytes(name), `${this.path}: tensor "${name}"`);
  }

  close(): Promise<void> {
    return this.handle.close();
  }

  private async readAt(buffer: Uint8Array, dataPosition: number): Promise<void> {
    try {
      await readExactly(this.handle, buffer, this.header.dataOffset + dataPosition);
    } catch (err) {
      throw damagedFile(
        'truncated',
        this.path,
        `the file became shorter while reading (${(err as Error).message})`,
      );
    }
  }
}

/** Open, check and close: the header alone. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const reader = await SafetensorsReader.open(path);
  await reader.close();
  return reader.header;
}

export function toFloat32(dtype: SafetensorsDtype, bytes: Uint8Array, what: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / DTYPE_BYTES[dtype]);
  if (dtype === 'F32') for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  else if (dtype === 'F64') for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  else if (dtype === 'F16')
    for (let i = 0; i < out.length; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  else if (dtype === 'BF16') {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < out.length; i++) u32[i] = view.getUint16(i * 2, true) << 16;
  } else throw new Error(`${what} is ${dtype}, not a floating-point tensor`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Number conversions (bf16 and f16 storage of float32 values)

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN. */
export function floatToBf16(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 → IEEE half bits, round to nearest even, overflow to ±inf, subnormals kept. */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const half = mant >>> 13;
  const rest = mant & 0x1fff;
  let out = (e << 10) | half;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) out += 1; // may carry into the exponent: correct
  e = out >>> 10;
  return sign | (e >= 0x1f ? 0x7c00 : out);
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// ---------------------------------------------------------------------------------------------
// Writing

export type TensorBytes = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
  /** Little-endian, row-major bytes; a function is called only when this tensor's turn comes. */
  data: TensorBytes | (() => TensorBytes);
}

export interface WrittenSafetensors {
  path: string;
  bytes: number;
  headerLength: number;
}

/**
 * Writes tensors (in the reference writer's order: larger dtypes first, then by name) with a
 * space-padded header so data starts 8-aligned. Streams each tensor; temp file + rename.
 */
export async function writeSafetensors(
  path: string,
  tensors: readonly TensorToWrite[],
  metadata?: Record<string, string>,
): Promise<WrittenSafetensors> {
  const ordered = [...tensors].sort(
    (a, b) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of ordered) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) {
      throw new Error(`writeSafetensors(${path}): tensor name "${t.name}" is reserved or repeated`);
    }
    if (!isSafetensorsDtype(t.dtype)) throw new Error(`writeSafetensors(${path}): unknown dtype ${t.dtype}`);
    if (!t.shape.every(isCount)) throw new Error(`writeSafetensors(${path}): bad shape for "${t.name}"`);
    const bytes = numel(t.shape) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const headerLength = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(8 + headerLength, 0x20);
  head.writeBigUInt64LE(BigInt(headerLength), 0);
  json.copy(head, 8);

  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(temp, 'wx');
  try {
    await writeAll(handle, head);
    for (const t of ordered) {
      const want = numel(t.shape) * DTYPE_BYTES[t.dtype];
      let got = 0;
      const source = typeof t.data === 'function' ? t.data() : t.data;
      for await (const chunk of chunksOf(source)) {
        got += chunk.byteLength;
        if (got > want) break;
        await writeAll(handle, chunk);
      }
      if (got !== want) {
        throw new Error(
          `writeSafetensors(${path}): tensor "${t.name}" gave ${got} bytes, its shape needs ${want}`,
        );
      }
    }
    await handle.sync();
    await handle.close();
    await rename(temp, path);
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw err;
  }
  return { path, bytes: 8 + headerLength + offset, headerLength };
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.byteLength; ) {
    done += (await handle.write(bytes, done, bytes.byteLength - done)).bytesWritten;
  }
}

async function* chunksOf(source: TensorBytes): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) yield source;
  else yield* source;
}
