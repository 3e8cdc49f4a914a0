#!/usr/bin/env node
// Draws Tunesmith's app icon (a tuning fork on an indigo rounded square) into resources/icons/ as
// PNGs of the sizes the installers need. No image library: a tiny PNG encoder over zlib.
// Run: node scripts/make-icon.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
};

function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      const [r, g, b, a] = pixel((x + 0.5) / size, (y + 0.5) / size, 1 / size);
      raw.set([r, g, b, a], y * (size * 4 + 1) + 1 + x * 4);
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// Signed distances (negative inside) in unit coordinates; coverage from distance gives anti-aliasing.
const roundedBox = (x, y, cx, cy, hw, hh, r) => {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
};
const coverage = (d, px) => Math.min(1, Math.max(0, 0.5 - d / px));

function pixel(x, y, px) {
  const bg = coverage(roundedBox(x, y, 0.5, 0.5, 0.44, 0.44, 0.1), px);
  if (bg === 0) return [0, 0, 0, 0];
  const t = y; // vertical gradient indigo → violet
  const base = [Math.round(67 + 40 * t), Math.round(56 + 10 * t), Math.round(202 - 20 * t)];
  // Tuning fork: two tines, a U-shaped joint and a stem.
  const tines = Math.min(
    roundedBox(x, y, 0.4, 0.36, 0.035, 0.17, 0.035),
    roundedBox(x, y, 0.6, 0.36, 0.035, 0.17, 0.035),
  );
  const ring = Math.abs(Math.hypot(x - 0.5, Math.max(y - 0.53, 0)) - 0.1) - 0.035;
  const joint = y > 0.53 ? ring : Math.max(ring, roundedBox(x, y, 0.5, 0.53, 0.2, 0.0, 0));
  const stem = roundedBox(x, y, 0.5, 0.74, 0.035, 0.13, 0.035);
  const fork = coverage(Math.min(tines, y > 0.53 ? joint : Infinity, stem), px);
  const c = base.map((v) => Math.round(v * (1 - fork) + 255 * fork));
  return [...c, Math.round(255 * bg)];
}

const dir = join(import.meta.dirname, '..', 'resources', 'icons');
mkdirSync(dir, { recursive: true });
for (const size of [16, 32, 48, 64, 128, 256, 512]) {
  writeFileSync(join(dir, `${size}x${size}.png`), png(size, pixel));
}
writeFileSync(join(dir, 'icon.png'), png(512, pixel));
console.log(`icons written to ${dir}`);
