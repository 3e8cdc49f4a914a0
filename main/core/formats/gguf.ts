// GGUF v3 (formats.md §1), the file llama.cpp and Ollama load. Little-endian:
//   "GGUF" u32 version=3 | u64 tensor_count | u64 kv_count | kv_count × (string key, u32 type, value)
//   | tensor_count × (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset)
//   | zero pad to 32 | tensor data, each tensor padded to 32, offsets dense and in info order.
// Strings are u64 length + UTF-8 (no NUL). ne[0] is the innermost (row) length: a torch (out, in)
// matrix has ne = [in, out]. The writer streams one tensor at a time into a temp file and renames it;
// the reader checks every count, length and offset against the file size before reading.
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises';
import { damagedFile, FormatError } from './errors.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_ALIGNMENT = 32;
export const GGUF_MAX_NAME = 63;
const MAX_STRING = 1 << 30;
const MAX_ARRAY = 1 << 30;

export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];
type ScalarType = Exclude<GgufValueType, 9>;

export type GgufScalar = number | bigint | boolean | string;
export type GgufValue =
  | { type: ScalarType; value: GgufScalar }
  | { type: 9; itemType: ScalarType; values: GgufScalar[] };
export interface GgufKv {
  key: string;
  value: GgufValue;
}

/** ggml tensor types this project writes (it reads the table's others only as far as sizes). */
export const GgmlType = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];
// [block size, bytes per block]
const TYPE_SIZES: Record<number, [number, number]> = {
  0: [1, 4],
  1: [1, 2],
  2: [32, 18], // Q4_0
  3: [32, 20], // Q4_1
  6: [32, 22], // Q5_0
  7: [32, 24], // Q5_1
  8: [32, 34], // Q8_0
  10: [256, 84], // Q2_K
  11: [256, 110], // Q3_K
  12: [256, 144], // Q4_K
  13: [256, 176], // Q5_K
  14: [256, 210], // Q6_K
  24: [1, 1], // I8
  25: [1, 2], // I16
  26: [1, 4], // I32
  27: [1, 8], // I64
  28: [1, 8], // F64
  30: [1, 2], // BF16
};

export function ggmlTypeName(type: number): string {
  const names: Record<number, string> = {
    0: 'F32',
    1: 'F16',
    8: 'Q8_0',
    30: 'BF16',
    2: 'Q4_0',
    12: 'Q4_K',
    14: 'Q6_K',
  };
  return names[type] ?? `type ${type}`;
}

/** Bytes of a tensor of `type` with dims `ne`; throws when ne[0] is not a multiple of the block. */
export function ggmlTensorBytes(type: number, ne: readonly number[]): number {
  const size = TYPE_SIZES[type];
  if (!size) throw new Error(`ggml type ${type} is not known to this reader`);
  const [block, bytes] = size;
  const rowLength = ne[0] ?? 1;
  if (rowLength % block !== 0) {
    throw new Error(
      `row length ${rowLength} is not a multiple of the ${ggmlTypeName(type)} block size ${block}`,
    );
  }
  let rows = 1;
  for (let i = 1; i < ne.length; i++) rows *= ne[i]!;
  return (rowLength / block) * bytes * rows;
}

export const pad = (x: number, n = GGUF_ALIGNMENT) => Math.ceil(x / n) * n;

// ---------------------------------------------------------------------------------------------
// Writing

export type GgufTensorData = Uint8Array | Promise<Uint8Array>;

export interface GgufTensorToWrite {
  name: string;
  type: GgmlType;
  /** ggml order: ne[0] is the row length (a torch shape reversed). */
  ne: readonly number[];
  /** Called only when this tensor's turn comes, so one tensor is in memory at a time. */
  data: () => GgufTensorData;
}

export interface GgufWriteOptions {
  /** Test seam: replaces the write of each buffer (to simulate a full disk). */
  writeBuffer?: (handle: FileHandle, bytes: Uint8Array) => Promise<void>;
}

export interface WrittenGguf {
  path: string;
  bytes: number;
  tensorCount: number;
}

class ByteSink {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer) {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  u64(v: number | bigint) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  string(s: string) {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  scalar(type: ScalarType, v: GgufScalar, key: string) {
    const b = Buffer.alloc(scalarSize(type));
    const n = () => {
      if (typeof v !== 'number' && typeof v !== 'bigint')
        throw new Error(`GGUF key ${key}: expected a number`);
      return v;
    };
    switch (type) {
      case GgufValueType.UINT8: b.writeUInt8(Number(n())); break;
      case GgufValueType.INT8: b.writeInt8(Number(n())); break;
      case GgufValueType.UINT16: b.writeUInt16LE(Number(n())); break;
      case GgufValueType.INT16: b.writeInt16LE(Number(n())); break;
      case GgufValueType.UINT32: b.writeUInt32LE(Number(n())); break;
      case GgufValueType.INT32: b.writeInt32LE(Number(n())); break;
      case GgufValueType.FLOAT32: b.writeFloatLE(Number(n())); break;
      case GgufValueType.BOOL: b.writeUInt8(v ? 1 : 0); break;
      case GgufValueType.UINT64: b.writeBigUInt64LE(BigInt(n())); break;
      case GgufValueType.INT64: b.writeBigInt64LE(BigInt(n())); break;
      case GgufValueType.FLOAT64: b.writeDoubleLE(Number(n())); break;
      case GgufValueType.STRING:
        if (typeof v !== 'string') throw new Error(`GGUF key ${key}: expected a string`);
        this.string(v);
        return;
    } // biome-ignore format: one case a line
    this.push(b);
  }
  take(): Buffer {
    const out = Buffer.concat(this.parts);
    this.parts = [];
    this.length = 0;
    return out;
  }
}

function scalarSize(type: ScalarType): number {
  return [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8][type]!;
}

function checkLayout(kvs: readonly GgufKv[], tensors: readonly GgufTensorToWrite[]): void {
  const keys = new Set<string>();
  for (const { key } of kvs) {
    if (!key || keys.has(key)) throw new Error(`GGUF key "${key}" is empty or given twice`);
    keys.add(key);
  }
  const names = new Set<string>();
  for (const t of tensors) {
    if (Buffer.byteLength(t.name) > GGUF_MAX_NAME)
      throw new Error(`GGUF tensor name "${t.name}" is over 63 bytes`);
    if (names.has(t.name)) throw new Error(`GGUF tensor "${t.name}" is given twice`);
    if (t.ne.length < 1 || t.ne.length > 4) throw new Error(`GGUF tensor "${t.name}" needs 1 to 4 dims`);
    names.add(t.name);
  }
}

/**
 * Writes a GGUF file: header, KVs and tensor infos first (offsets are known from the shapes), then
 * each tensor's bytes in turn. Goes to `<path>.partial-*` and is renamed on success; any failure
 * (a full disk included) removes the partial file and rethrows.
 */
export async function writeGguf(
  path: string,
  kvs: readonly GgufKv[],
  tensors: readonly GgufTensorToWrite[],
  options: GgufWriteOptions = {},
): Promise<WrittenGguf> {
  checkLayout(kvs, tensors);
  const head = new ByteSink();
  head.u32(GGUF_MAGIC);
  head.u32(GGUF_VERSION);
  head.u64(tensors.length);
  head.u64(kvs.length);
  for (const { key, value } of kvs) {
    head.string(key);
    head.u32(value.type);
    if (value.type === GgufValueType.ARRAY) {
      head.u32(value.itemType);
      head.u64(value.values.length);
      for (const v of value.values) head.scalar(value.itemType, v, key);
    } else {
      head.scalar(value.type, value.value, key);
    }
  }
  const sizes = tensors.map((t) => {
    try {
      return ggmlTensorBytes(t.type, t.ne);
    } catch (err) {
      throw new Error(`GGUF tensor "${t.name}": ${(err as Error).message}`);
    }
  });
  let offset = 0;
  tensors.forEach((t, i) => {
    head.string(t.name);
    head.u32(t.ne.length);
    for (const d of t.ne) head.u64(d);
    head.u32(t.type);
    head.u64(offset);
    offset += pad(sizes[i]!);
  });
  const headLength = head.length;
  head.push(Buffer.alloc(pad(headLength) - headLength));

  const temp = `${path}.partial-${randomBytes(4).toString('hex')}`;
  const write = options.writeBuffer ?? (async (h: FileHandle, b: Uint8Array) => void (await h.write(b)));
  const handle = await open(temp, 'w');
  let written = 0;
  try {
    const out = async (b: Uint8Array) => {
      await write(handle, b);
      written += b.length;
    };
    await out(head.take());
    for (let i = 0; i < tensors.length; i++) {
      const t = tensors[i]!;
      const bytes = await t.data();
      if (bytes.length !== sizes[i]) {
        throw new Error(`GGUF tensor "${t.name}": got ${bytes.length} bytes, its shape needs ${sizes[i]}`);
      }
      await out(bytes);
      const padding = pad(bytes.length) - bytes.length;
      if (padding > 0) await out(new Uint8Array(padding));
    }
    await handle.sync();
    await handle.close();
    await rename(temp, path);
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw err;
  }
  return { path, bytes: written, tensorCount: tensors.length };
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface GgufTensorInfo {
  name: string;
  type: number;
  ne: number[];
  /** Relative to the data section. */
  offset: number;
  bytes: number;
}

export interface GgufFile {
  path: string;
  version: number;
  kv: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  /** Absolute file position of the tensor data section. */
  dataOffset: number;
  fileSize: number;
}

/** Reads from a file handle with every read checked against the file size. */
class CheckedCursor {
  pos = 0;
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    private readonly path: string,
  ) {}

  private async need(n: number, what: string): Promise<Buffer> {
    if (n > this.size - this.pos) {
      throw damagedFile(
        'truncated',
        this.path,
        `${what} at byte ${this.pos} runs past the end of the file (${this.size} bytes)`,
      );
    }
    const end = this.pos + n;
    if (this.pos < this.bufStart || end > this.bufStart + this.buf.length) {
      this.buf = Buffer.alloc(Math.min(Math.max(n, 1 << 20), this.size - this.pos));
      this.bufStart = this.pos;
      let done = 0;
      while (done < this.buf.length) {
        const { bytesRead } = await this.handle.read(this.buf, done, this.buf.length - done, this.pos + done);
        if (bytesRead === 0)
          throw damagedFile('truncated', this.path, 'the file became shorter while reading');
        done += bytesRead;
      }
    }
    const at = this.pos - this.bufStart;
    this.pos = end;
    return this.buf.subarray(at, at + n);
  }
  async u32(what: string) {
    return (await this.need(4, what)).readUInt32LE(0);
  }
  async u64(what: string): Promise<number> {
    const v = (await this.need(8, what)).readBigUInt64LE(0);
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw damagedFile('bad-header', this.path, `${what} (${v}) is impossibly large`);
    return Number(v);
  }
  async string(what: string): Promise<string> {
    const n = await this.u64(`${what} length`);
    if (n > MAX_STRING)
      throw damagedFile('bad-header', this.path, `${what} is ${n} bytes long (limit 1 GiB)`);
    return (await this.need(n, what)).toString('utf8');
  }
  async scalar(type: number, what: string): Promise<GgufScalar> {
    if (type === GgufValueType.STRING) return this.string(what);
    const size = type >= 0 && type <= 12 && type !== 8 && type !== 9 ? scalarSize(type as ScalarType) : 0;
    if (!size) throw damagedFile('bad-header', this.path, `${what} has unknown value type ${type}`);
    const b = await this.need(size, what);
    switch (type) {
      case 0: return b.readUInt8(0);
      case 1: return b.readInt8(0);
      case 2: return b.readUInt16LE(0);
      case 3: return b.readInt16LE(0);
      case 4: return b.readUInt32LE(0);
      case 5: return b.readInt32LE(0);
      case 6: return b.readFloatLE(0);
      case 7: return b.readUInt8(0) !== 0;
      case 10: return b.readBigUInt64LE(0);
      case 11: return b.readBigInt64LE(0);
      default: return b.readDoubleLE(0);
    } // biome-ignore format: one case a line
  }
}

/** Header, KVs and tensor infos of a GGUF file, every count and offset checked. */
export async function readGguf(path: string): Promise<GgufFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new FormatError(
      { code: 'not-found', path, message: `${path}: cannot open the file.`, hint: 'Check the path.' },
      { cause: err },
    );
  }
  try {
    const size = (await stat(path)).size;
    const c = new CheckedCursor(handle, size, path);
    const bad = (what: string) => damagedFile('bad-header', path, what);
    if ((await c.u32('magic')) !== GGUF_MAGIC)
      throw bad('it does not start with "GGUF"; it is not a GGUF file');
    const version = await c.u32('version');
    if (version !== 2 && version !== 3) throw bad(`GGUF version ${version} is not supported (2 or 3 are)`);
    const tensorCount = await c.u64('tensor count');
    const kvCount = await c.u64('metadata count');
    // Each KV needs at least 8+1+4+1 bytes and each tensor info 8+1+4+8+4+8: a count that cannot fit is a lie.
    if (kvCount * 14 > size || tensorCount * 33 > size)
      throw bad(`counts (${kvCount} keys, ${tensorCount} tensors) do not fit in ${size} bytes`);
    const kv = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = await c.string(`key ${i}`);
      if (!key || kv.has(key)) throw bad(`key ${i} ("${key}") is empty or repeated`);
      const type = await c.u32(`type of ${key}`);
      if (type === GgufValueType.ARRAY) {
        const itemType = await c.u32(`item type of ${key}`);
        if (itemType === GgufValueType.ARRAY || itemType > 12)
          throw bad(`${key} is an array of type ${itemType}`);
        const n = await c.u64(`length of ${key}`);
        const minItem = itemType === GgufValueType.STRING ? 8 : scalarSize(itemType as ScalarType);
        if (n > MAX_ARRAY || n * minItem > size - c.pos)
          throw bad(`${key} claims ${n} items, more than the file holds`);
        const values: GgufScalar[] = new Array(n);
        for (let k = 0; k < n; k++) values[k] = await c.scalar(itemType, `${key}[${k}]`);
        kv.set(key, { type: 9, itemType: itemType as ScalarType, values });
      } else {
        kv.set(key, { type: type as ScalarType, value: await c.scalar(type, key) });
      }
    }
    const alignValue = kv.get('general.alignment');
    let alignment = GGUF_ALIGNMENT;
    if (alignValue) {
      if (alignValue.type !== GgufValueType.UINT32) throw bad('general.alignment is not a UINT32');
      alignment = Number(alignValue.value);
      if (alignment === 0 || (alignment & (alignment - 1)) !== 0)
        throw bad(`general.alignment ${alignment} is not a power of two`);
    }
    const tensors: GgufTensorInfo[] = [];
    const names = new Set<string>();
    let expected = 0;
    for (let i = 0; i < tensorCount; i++) {
      const name = await c.string(`tensor ${i} name`);
      if (Buffer.byteLength(name) > GGUF_MAX_NAME || names.has(name))
        throw bad(`tensor name "${name}" is too long or repeated`);
      names.add(name);
      const nDims = await c.u32(`${name} dims`);
      if (nDims < 1 || nDims > 4) throw bad(`tensor "${name}" has ${nDims} dims (1 to 4 allowed)`);
      const ne: number[] = [];
      for (let d = 0; d < nDims; d++) ne.push(await c.u64(`${name} ne[${d}]`));
      const type = await c.u32(`${name} type`);
      const offset = await c.u64(`${name} offset`);
      let bytes: number;
      try {
        bytes = ggmlTensorBytes(type, ne);
      } catch (err) {
        throw bad(`tensor "${name}": ${(err as Error).message}`);
      }
      if (!Number.isSafeInteger(bytes) || bytes > size)
        throw bad(`tensor "${name}" claims ${bytes} bytes, more than the file holds`);
      if (offset !== expected) throw bad(`tensor "${name}" has offset ${offset}, expected ${expected}`);
      expected = offset + pad(bytes, alignment);
      tensors.push({ name, type, ne, offset, bytes });
    }
    const dataOffset = pad(c.pos, alignment);
    const last = tensors.at(-1);
    if (last && dataOffset + last.offset + last.bytes > size) {
      throw damagedFile(
        'truncated',
        path,
        `tensor "${last.name}" ends past the end of the file (${size} bytes); the file is cut short`,
      );
    }
    return { path, version, kv, tensors, dataOffset, fileSize: size };
  } finally {
    await handle.close();
  }
}

/** One tensor's bytes (bounds already checked by readGguf). */
export async function readGgufTensor(file: GgufFile, name: string): Promise<Buffer> {
  const info = file.tensors.find((t) => t.name === name);
  if (!info) throw new Error(`${file.path} has no tensor "${name}"`);
  const handle = await open(file.path, 'r');
  try {
    const out = Buffer.alloc(info.bytes);
    const { bytesRead } = await handle.read(out, 0, info.bytes, file.dataOffset + info.offset);
    if (bytesRead !== info.bytes) throw damagedFile('truncated', file.path, `tensor "${name}" is cut short`);
    return out;
  } finally {
    await handle.close();
  }
}

/** A scalar KV's value, or undefined. */
export function ggufScalar(file: GgufFile, key: string): GgufScalar | undefined {
  const v = file.kv.get(key);
  return v && v.type !== 9 ? v.value : undefined;
}

export const str = (value: string): GgufValue => ({ type: GgufValueType.STRING, value });
export const u32 = (value: number): GgufValue => ({ type: GgufValueType.UINT32, value });
export const i32 = (value: number): GgufValue => ({ type: GgufValueType.INT32, value });
export const f32 = (value: number): GgufValue => ({ type: GgufValueType.FLOAT32, value });
export const bool = (value: boolean): GgufValue => ({ type: GgufValueType.BOOL, value });
export const arr = (itemType: ScalarType, values: GgufScalar[]): GgufValue => ({ type: 9, itemType, values });
