// safetensors: round trips, the writer's streaming and atomicity, every header check against hostile
// files, sharded folders, and an independent Python reader/writer agreeing with ours.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../../main/core/formats/errors.js';
import {
  floatToBf16,
  floatToHalf,
  halfToFloat,
  readSafetensorsHeader,
  SafetensorsReader,
  writeSafetensors,
} from '../../../main/core/formats/safetensors.js';
import { readWeightsLayout } from '../../../main/core/formats/safetensors-index.js';

const temp = () => mkdtempSync(join(tmpdir(), 'tunesmith-st-'));

const f32Bytes = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

/** A file built by hand: declared header length, header text, data bytes. */
function rawFile(header: string | Buffer | object, data = new Uint8Array(0), declared?: bigint): string {
  const text = Buffer.isBuffer(header)
    ? header
    : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(declared ?? BigInt(text.length));
  const file = join(temp(), 'model.safetensors');
  writeFileSync(file, Buffer.concat([prefix, text, data]));
  return file;
}

async function rejection(file: string): Promise<FormatError> {
  const err = await SafetensorsReader.open(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FormatError);
  expect((err as FormatError).message).toContain(file);
  return err as FormatError;
}

describe('writeSafetensors → SafetensorsReader', () => {
  it('round-trips dtypes, shapes, values and metadata, with an 8-aligned space-padded header', async () => {
    const file = join(temp(), 'a.safetensors');
    const bf16 = new Uint8Array(new Uint16Array([floatToBf16(1.5), floatToBf16(-2)]).buffer);
    const f16 = new Uint8Array(new Uint16Array([floatToHalf(0.25), floatToHalf(-3)]).buffer);
    const written = await writeSafetensors(
      file,
      [
        { name: 'w', dtype: 'F32', shape: [2, 3], data: f32Bytes([1, 2, 3, 4, 5, 6]) },
        { name: 'b', dtype: 'BF16', shape: [2], data: bf16 },
        { name: 'h', dtype: 'F16', shape: [2], data: f16 },
        { name: 'ids', dtype: 'I64', shape: [1], data: new Uint8Array(new BigInt64Array([7n]).buffer) },
        { name: 'empty', dtype: 'U8', shape: [0, 4], data: new Uint8Array(0) },
        { name: 'scalar', dtype: 'F32', shape: [], data: f32Bytes([42]) },
      ],
      { format: 'pt' },
    );
    const bytes = readFileSync(file);
    expect(written.bytes).toBe(bytes.length);
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const headerText = bytes.subarray(8, 8 + n).toString('utf8');
    expect(headerText.startsWith('{"__metadata__":{"format":"pt"}')).toBe(true);
    expect(headerText.trimEnd().length).toBeGreaterThan(n - 8);
    expect(headerText.slice(headerText.trimEnd().length)).toMatch(/^ *$/);

    const reader = await SafetensorsReader.open(file);
    try {
      expect(reader.header.metadata).toEqual({ format: 'pt' });
      // Reference writer order: 8-byte dtypes first, then 4, 2, 1; by name within a size.
      expect(reader.tensors.map((t) => t.name)).toEqual(['ids', 'scalar', 'w', 'b', 'h', 'empty']);
      expect(reader.tensor('w').shape).toEqual([2, 3]);
      expect([...(await reader.readFloat32('w'))]).toEqual([1, 2, 3, 4, 5, 6]);
      expect([...(await reader.readFloat32('b'))]).toEqual([1.5, -2]);
      expect([...(await reader.readFloat32('h'))]).toEqual([0.25, -3]);
      expect([...(await reader.readFloat32('scalar'))]).toEqual([42]);
      expect((await reader.readBytes('ids')).readBigInt64LE(0)).toBe(7n);
      expect((await reader.readBytes('empty')).length).toBe(0);
      const chunks: Buffer[] = [];
      for await (const chunk of reader.readChunks('w', 5)) chunks.push(chunk);
      expect(chunks.map((c) => c.length)).toEqual([5, 5, 5, 5, 4]);
      expect(Buffer.concat(chunks)).toEqual(await reader.readBytes('w'));
      await expect(reader.readBytes('nope')).rejects.toThrow(/has no tensor named "nope"/);
    } finally {
      await reader.close();
    }
  });

  it('streams tensors: a data function is called once, when its turn comes, and may yield chunks', async () => {
    const calls: string[] = [];
    const file = join(temp(), 'b.safetensors');
    await writeSafetensors(file, [
      {
        name: 'x',
        dtype: 'F32',
        shape: [4],
        data: function* () {
          calls.push('x');
          yield f32Bytes([1, 2]);
          yield f32Bytes([3, 4]);
        },
      },
      {
        name: 'y',
        dtype: 'F32',
        shape: [1],
        data: async function* () {
          calls.push('y');
          yield f32Bytes([5]);
        },
      },
    ]);
    expect(calls).toEqual(['x', 'y']);
    const reader = await SafetensorsReader.open(file);
    expect([...(await reader.readFloat32('x'))]).toEqual([1, 2, 3, 4]);
    await reader.close();
  });

  it('leaves nothing behind (and an existing file untouched) when a tensor gives the wrong byte count', async () => {
    const dir = temp();
    const file = join(dir, 'c.safetensors');
    writeFileSync(file, 'precious');
    await expect(
      writeSafetensors(file, [{ name: 'x', dtype: 'F32', shape: [3], data: f32Bytes([1, 2]) }]),
    ).rejects.toThrow(/"x" gave 8 bytes, its shape needs 12/);
    expect(readFileSync(file, 'utf8')).toBe('precious');
    expect(readdirSync(dir)).toEqual(['c.safetensors']);
  });

  it('refuses repeated or reserved tensor names', async () => {
    const file = join(temp(), 'd.safetensors');
    const t = { name: 'x', dtype: 'F32' as const, shape: [1], data: f32Bytes([1]) };
    await expect(writeSafetensors(file, [t, t])).rejects.toThrow(/reserved or repeated/);
    await expect(writeSafetensors(file, [{ ...t, name: '__metadata__' }])).rejects.toThrow(/reserved/);
  });
});

describe('hostile files: an error naming the file and the fault, never a crash', () => {
  const entry = (dtype: string, shape: number[], begin: number, end: number) => ({
    dtype,
    shape,
    data_offsets: [begin, end],
  });

  it('a file shorter than the 8-byte length', async () => {
    const file = join(temp(), 'short.safetensors');
    writeFileSync(file, Buffer.from([1, 2, 3]));
    expect((await rejection(file)).message).toMatch(/3 bytes, too short/);
  });

  it('a header longer than the file', async () => {
    const err = await rejection(rawFile('{}', new Uint8Array(0), 1000n));
    expect(err.code).toBe('truncated');
    expect(err.message).toMatch(/claims 1000 bytes but the file is only 10 bytes/);
  });

  it('a huge declared header length', async () => {
    const err = await rejection(rawFile('{}', new Uint8Array(0), 2n ** 63n));
    expect(err.message).toMatch(
      /claims to be 9223372036854775808 bytes long, more than the 100000000-byte limit/,
    );
  });

  it('a header that is not JSON, not UTF-8, or not an object', async () => {
    expect((await rejection(rawFile('{"a": [1,'))).message).toMatch(/not valid JSON/);
    expect((await rejection(rawFile(Buffer.from([0x7b, 0xff, 0x7d])))).message).toMatch(/not valid UTF-8/);
    expect((await rejection(rawFile('[1, 2]'))).message).toMatch(/not an object of tensors/);
  });

  it('an unknown dtype', async () => {
    const err = await rejection(rawFile({ x: entry('Q4_K', [2], 0, 2) }, new Uint8Array(2)));
    expect(err.message).toMatch(/tensor "x": dtype "Q4_K" is not one Tunesmith reads/);
  });

  it('a byte span that does not match shape × dtype size', async () => {
    const err = await rejection(rawFile({ x: entry('F32', [2, 3], 0, 12) }, new Uint8Array(12)));
    expect(err.message).toMatch(/shape \[2, 3\] of F32 needs 24 bytes but "data_offsets" span 12 bytes/);
  });

  it('a shape whose element count overflows is still caught', async () => {
    const err = await rejection(rawFile({ x: entry('F32', [2 ** 40, 2 ** 40], 0, 4) }, new Uint8Array(4)));
    expect(err.message).toMatch(/needs 4835703278458516698824704 bytes/);
  });

  it('offsets past the end of the file', async () => {
    const err = await rejection(rawFile({ x: entry('F32', [4], 0, 16) }, new Uint8Array(8)));
    expect(err.code).toBe('truncated');
    expect(err.message).toMatch(/"x" ends at data byte 16 but the file holds only 8 data bytes/);
  });

  it('overlapping tensors', async () => {
    const file = rawFile({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 4, 12) }, new Uint8Array(12));
    expect((await rejection(file)).message).toMatch(
      /tensors "a" \(bytes 0–8\) and "b" \(bytes 4–12\) overlap/,
    );
  });

  it('a gap between tensors (the format packs them)', async () => {
    const file = rawFile({ a: entry('F32', [1], 0, 4), b: entry('F32', [1], 8, 12) }, new Uint8Array(12));
    expect((await rejection(file)).message).toMatch(/4 unused bytes before tensor "b"/);
  });

  it('bytes after the last tensor', async () => {
    const file = rawFile({ a: entry('F32', [1], 0, 4) }, new Uint8Array(10));
    expect((await rejection(file)).message).toMatch(/6 bytes after the last tensor/);
  });

  it('a repeated tensor name', async () => {
    const one = JSON.stringify(entry('F32', [1], 0, 4));
    const file = rawFile(`{"a": ${one}, "a": ${one}}`, new Uint8Array(4));
    expect((await rejection(file)).message).toMatch(/names "a" twice/);
  });

  it('bad offsets and shapes', async () => {
    const data = new Uint8Array(4);
    expect((await rejection(rawFile({ a: entry('F32', [1], -4, 0) }, data))).message).toMatch(
      /two whole numbers/,
    );
    expect((await rejection(rawFile({ a: entry('F32', [1], 4, 0) }, data))).message).toMatch(
      /end 0 is before begin 4/,
    );
    expect((await rejection(rawFile({ a: entry('F32', [1.5], 0, 4) }, data))).message).toMatch(
      /"shape" must be/,
    );
    expect((await rejection(rawFile({ a: { dtype: 'F32', shape: [1] } }, data))).message).toMatch(
      /data_offsets/,
    );
  });

  it('metadata that is not a map of strings', async () => {
    const file = rawFile({ __metadata__: { format: 1 } });
    expect((await rejection(file)).message).toMatch(/"__metadata__.format" must be a string/);
  });

  it('accepts an empty file of tensors', async () => {
    const header = await readSafetensorsHeader(rawFile('{}  '));
    expect(header.tensors).toEqual([]);
  });
});

describe('half and bfloat16 conversion', () => {
  it('rounds to nearest even and handles the edges', () => {
    expect(floatToBf16(1)).toBe(0x3f80);
    expect(floatToBf16(1 + 2 ** -8)).toBe(0x3f80); // halfway, even stays
    expect(floatToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // halfway, odd rounds up
    expect(floatToBf16(Number.NaN) & 0x7f80).toBe(0x7f80);
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(65504)).toBe(0x7bff);
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds to infinity
    expect(floatToHalf(2 ** -24)).toBe(1); // smallest subnormal
    expect(floatToHalf(-0)).toBe(0x8000);
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // halfway, even stays
    for (const v of [0.1, -3.75, 2 ** -20, 1000.5]) {
      expect(Math.abs(halfToFloat(floatToHalf(v)) - v)).toBeLessThanOrEqual(
        Math.abs(v) * 2 ** -11 + 2 ** -25,
      );
    }
  });
});

describe('sharded folders (model.safetensors.index.json)', () => {
  async function shardedFolder(weightMap?: Record<string, string>, totalSize = 24): Promise<string> {
    const dir = temp();
    await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), [
      { name: 'a', dtype: 'F32', shape: [2], data: f32Bytes([1, 2]) },
      { name: 'b', dtype: 'F32', shape: [2], data: f32Bytes([3, 4]) },
    ]);
    await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), [
      { name: 'c', dtype: 'F32', shape: [2], data: f32Bytes([5, 6]) },
    ]);
    const map = weightMap ?? {
      a: 'model-00001-of-00002.safetensors',
      b: 'model-00001-of-00002.safetensors',
      c: 'model-00002-of-00002.safetensors',
    };
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: totalSize }, weight_map: map }),
    );
    return dir;
  }

  it('reads every shard and maps each tensor to its file', async () => {
    const dir = await shardedFolder();
    const layout = await readWeightsLayout(dir);
    expect(layout.kind).toBe('sharded');
    expect(layout.files).toHaveLength(2);
    expect(layout.tensors.get('c')?.file).toBe(join(dir, 'model-00002-of-00002.safetensors'));
    expect(layout.warnings).toEqual([]);
  });

  it('warns when total_size disagrees', async () => {
    const layout = await readWeightsLayout(await shardedFolder(undefined, 99));
    expect(layout.warnings[0]).toMatch(/"metadata.total_size" is 99 but the shards hold 24 bytes/);
  });

  const shard1 = 'model-00001-of-00002.safetensors';
  const shard2 = 'model-00002-of-00002.safetensors';
  it.each([
    [
      'a missing shard',
      { a: shard1, b: shard1, c: 'model-00003-of-00003.safetensors' },
      /lists shard model-00003-of-00003.safetensors .* is missing/,
    ],
    [
      'a tensor the index does not list',
      { a: shard1, c: shard2 },
      /does not list tensor "b", which is in model-00001/,
    ],
    [
      'a tensor in another shard than the index says',
      { a: shard1, b: shard2, c: shard2 },
      /says tensor "b" is in model-00002-of-00002.safetensors, but it is in model-00001/,
    ],
    [
      'a listed tensor no shard holds',
      { a: shard1, b: shard1, c: shard2, d: shard2 },
      /lists tensor "d" in model-00002-of-00002.safetensors, but that shard does not hold it/,
    ],
    [
      'a shard path outside the folder',
      { a: '../evil.safetensors' },
      /not a .safetensors file name in this folder/,
    ],
  ])('rejects %s', async (_, map, message) => {
    const dir = await shardedFolder(map);
    const err = await readWeightsLayout(dir).catch((e: unknown) => e as FormatError);
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).message).toContain(join(dir, 'model.safetensors.index.json'));
    expect((err as FormatError).message).toMatch(message);
  });

  it('says what a folder without weights needs', async () => {
    await expect(readWeightsLayout(temp())).rejects.toThrow(
      /has no model.safetensors and no model.safetensors.index.json/,
    );
  });
});

// An independent implementation: Debian's Python with torch (no safetensors package), parsing and
// writing the format with struct + json.
const PYTHON = '/usr/bin/python3';
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!hasTorch)('cross-check with an independent Python reader and writer', () => {
  it('Python reads what we wrote, value for value', async () => {
    const file = join(temp(), 'ours.safetensors');
    const values = [0.1, -2.5, 3e-3, 1024, -0.0625, 7];
    await writeSafetensors(
      file,
      [
        { name: 'f32', dtype: 'F32', shape: [2, 3], data: f32Bytes(values) },
        {
          name: 'bf16',
          dtype: 'BF16',
          shape: [6],
          data: new Uint8Array(new Uint16Array(values.map(floatToBf16)).buffer),
        },
        {
          name: 'f16',
          dtype: 'F16',
          shape: [3, 2],
          data: new Uint8Array(new Uint16Array(values.map(floatToHalf)).buffer),
        },
      ],
      { format: 'pt' },
    );
    const script = `
import json, struct, sys, torch
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
types = {'F32': torch.float32, 'BF16': torch.bfloat16, 'F16': torch.float16}
out = {'metadata': header.pop('__metadata__'), 'aligned': (8 + n) % 8 == 0}
for name, e in header.items():
    b, end = e['data_offsets']
    t = torch.frombuffer(bytearray(data[b:end]), dtype=types[e['dtype']]).reshape(e['shape'])
    out[name] = {'shape': list(t.shape), 'values': t.float().flatten().tolist()}
v = torch.tensor(json.loads(sys.argv[2]))
out['torch_bf16'], out['torch_f16'] = v.bfloat16().float().tolist(), v.half().float().tolist()
print(json.dumps(out))
`;
    const run = spawnSync(PYTHON, ['-c', script, file, JSON.stringify(values)], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const py = JSON.parse(run.stdout);
    expect(py.metadata).toEqual({ format: 'pt' });
    expect(py.aligned).toBe(true);
    expect(py.f32.shape).toEqual([2, 3]);
    expect(py.f32.values).toEqual([...new Float32Array(values)]);
    // torch rounds float → bf16/f16 itself: our bits must decode to torch's rounding of the same floats.
    expect(py.bf16.values).toEqual(py.torch_bf16);
    expect(py.f16.values).toEqual(py.torch_f16);
    expect(py.f16.shape).toEqual([3, 2]);
  });

  it('we read what Python wrote, value for value', async () => {
    const file = join(temp(), 'theirs.safetensors');
    const script = `
import json, struct, sys, torch
g = torch.Generator().manual_seed(3)
tensors = {'w': torch.randn(3, 5, generator=g), 'h': torch.randn(4, generator=g).half(),
           'b': torch.randn(2, 2, generator=g).bfloat16(), 'i': torch.arange(6, dtype=torch.int64).reshape(2, 3)}
names = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64'}
header, blobs, offset = {'__metadata__': {'source': 'python'}}, [], 0
for name, t in tensors.items():
    blob = t.contiguous().view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.contiguous().numpy().tobytes()
    header[name] = {'dtype': names[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(blob)]}
    blobs.append(blob); offset += len(blob)
text = json.dumps(header).encode()
text += b' ' * (-len(text) % 8)
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
print(json.dumps({k: v.float().flatten().tolist() for k, v in tensors.items()}))
`;
    const run = spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const expected = JSON.parse(run.stdout) as Record<string, number[]>;
    const reader = await SafetensorsReader.open(file);
    try {
      expect(reader.header.metadata).toEqual({ source: 'python' });
      expect(reader.tensor('w').shape).toEqual([3, 5]);
      for (const name of ['w', 'h', 'b'])
        expect([...(await reader.readFloat32(name))]).toEqual(expected[name]);
      const ints = await reader.readBytes('i');
      expect([0, 1, 2, 3, 4, 5].map((k) => Number(ints.readBigInt64LE(k * 8)))).toEqual(expected.i);
    } finally {
      await reader.close();
    }
  });
});

if (!hasTorch) {
  console.warn(`safetensors cross-check SKIPPED: ${PYTHON} cannot import torch (apt install python3-torch).`);
}
