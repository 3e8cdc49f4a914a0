// GGUF: writer/reader round trip, the layout llama.cpp requires (32-byte alignment, dense offsets),
// hostile files rejected with a message instead of a crash, and a failing write leaving nothing.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../../main/core/formats/errors.js';
import {
  arr,
  bool,
  f32,
  GgmlType,
  GgufValueType,
  readGguf,
  readGgufTensor,
  str,
  u32,
  writeGguf,
} from '../../../main/core/formats/gguf.js';

const temp = () => mkdtempSync(join(tmpdir(), 'tunesmith-gguf-'));
const poke = (b: Buffer, edit: (b: Buffer) => unknown) => {
  edit(b);
  return b;
};
const floats = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

async function sample(path: string) {
  return writeGguf(
    path,
    [
      { key: 'general.architecture', value: str('llama') },
      { key: 'adapter.lora.alpha', value: f32(16) },
      { key: 'llama.block_count', value: u32(2) },
      { key: 'tokenizer.ggml.add_bos_token', value: bool(true) },
      { key: 'tokenizer.ggml.tokens', value: arr(GgufValueType.STRING, ['<s>', 'héllo', '']) },
      { key: 'tokenizer.ggml.scores', value: arr(GgufValueType.FLOAT32, [0, -1.5, -2]) },
    ],
    [
      { name: 'a.weight', type: GgmlType.F32, ne: [3, 1], data: () => floats(1, 2, 3) },
      { name: 'b.weight', type: GgmlType.F32, ne: [2, 2], data: () => Promise.resolve(floats(4, 5, 6, 7)) },
    ],
  );
}

describe('GGUF writer and reader', () => {
  it('round-trips keys, arrays and tensors, with dense 32-byte-aligned data', async () => {
    const path = join(temp(), 'x.gguf');
    await sample(path);
    const file = await readGguf(path);
    expect(file.version).toBe(3);
    expect(file.kv.get('general.architecture')).toEqual(str('llama'));
    expect(file.kv.get('adapter.lora.alpha')).toEqual({ type: GgufValueType.FLOAT32, value: 16 });
    expect(file.kv.get('tokenizer.ggml.add_bos_token')).toEqual(bool(true));
    expect(file.kv.get('tokenizer.ggml.tokens')).toEqual(arr(GgufValueType.STRING, ['<s>', 'héllo', '']));
    expect(file.dataOffset % 32).toBe(0);
    expect(file.tensors.map((t) => [t.name, t.ne, t.offset, t.bytes])).toEqual([
      ['a.weight', [3, 1], 0, 12],
      ['b.weight', [2, 2], 32, 16],
    ]);
    expect(new Float32Array(new Uint8Array(await readGgufTensor(file, 'b.weight')).buffer)).toEqual(
      new Float32Array([4, 5, 6, 7]),
    );
    const bytes = readFileSync(path);
    expect(bytes.subarray(0, 4).toString()).toBe('GGUF');
    expect(bytes.length).toBe(file.dataOffset + 32 + 32);
  });

  it('refuses what llama.cpp would refuse: long names, repeated keys, a bad byte count', async () => {
    const dir = temp();
    const t = (name: string, ne: number[], data: Uint8Array) => ({
      name,
      type: GgmlType.F32,
      ne,
      data: () => data,
    });
    await expect(writeGguf(join(dir, 'a'), [], [t('x'.repeat(64), [1], floats(1))])).rejects.toThrow(
      /over 63 bytes/,
    );
    await expect(
      writeGguf(
        join(dir, 'b'),
        [
          { key: 'k', value: u32(1) },
          { key: 'k', value: u32(2) },
        ],
        [],
      ),
    ).rejects.toThrow(/twice/);
    await expect(writeGguf(join(dir, 'c'), [], [t('w', [4], floats(1, 2))])).rejects.toThrow(
      /got 8 bytes, its shape needs 16/,
    );
    await expect(
      writeGguf(
        join(dir, 'd'),
        [],
        [{ name: 'q', type: GgmlType.Q8_0, ne: [31], data: () => new Uint8Array(34) }],
      ),
    ).rejects.toThrow(/multiple of the Q8_0 block size 32/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removes the partial file when the disk fills up mid-write', async () => {
    const dir = temp();
    let writes = 0;
    const full = async () => {
      if (++writes > 2) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    await expect(sample(join(dir, 'x.gguf')).then(() => 0)).resolves.toBe(0);
    await expect(
      writeGguf(
        join(dir, 'y.gguf'),
        [],
        [
          { name: 'a', type: GgmlType.F32, ne: [1], data: () => floats(1) },
          { name: 'b', type: GgmlType.F32, ne: [1], data: () => floats(2) },
        ],
        { writeBuffer: full },
      ),
    ).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(readdirSync(dir)).toEqual(['x.gguf']);
  });

  it('rejects hostile files with a message naming the file, never a crash', async () => {
    const dir = temp();
    const good = join(dir, 'good.gguf');
    await sample(good);
    const bytes = readFileSync(good);
    const variant = (name: string, edit: (b: Buffer) => Buffer) => {
      const p = join(dir, name);
      writeFileSync(p, edit(Buffer.from(bytes)));
      return p;
    };
    const cases: Array<[string, RegExp]> = [
      [variant('magic', (b) => poke(b, (x) => x.write('GGUX', 0))), /not a GGUF file/],
      [variant('version', (b) => poke(b, (x) => x.writeUInt32LE(7, 4))), /version 7/],
      [variant('tensors', (b) => poke(b, (x) => x.writeBigUInt64LE(1n << 40n, 8))), /do not fit/],
      [variant('kvs', (b) => poke(b, (x) => x.writeBigUInt64LE(1n << 50n, 16))), /do not fit|impossibly/],
      [variant('keylen', (b) => poke(b, (x) => x.writeBigUInt64LE(1n << 33n, 24))), /past the end|limit/],
      [variant('cut', (b) => b.subarray(0, b.length - 20)), /cut short|past the end/],
      [variant('header-cut', (b) => b.subarray(0, 60)), /do not fit|past the end/],
      [variant('header-cut2', (b) => b.subarray(0, 200)), /past the end/],
      [variant('empty', () => Buffer.alloc(0)), /past the end/],
    ];
    for (const [path, message] of cases) {
      const err = await readGguf(path).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, path).toBeInstanceOf(FormatError);
      expect((err as Error).message, path).toMatch(message);
      expect((err as Error).message).toContain(path);
    }
  });

  it('rejects a tensor offset that is not where the layout puts it', async () => {
    const dir = temp();
    const path = join(dir, 'x.gguf');
    await sample(path);
    const file = await readGguf(path);
    const bytes = readFileSync(path);
    // The last u64 before the padding is b.weight's offset (32): make it 64.
    const at = bytes.lastIndexOf(Buffer.from([32, 0, 0, 0, 0, 0, 0, 0]), file.dataOffset);
    bytes.writeBigUInt64LE(64n, at);
    writeFileSync(path, bytes);
    await expect(readGguf(path)).rejects.toThrow(/offset 64, expected 32/);
  });
});
