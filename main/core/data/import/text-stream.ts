// Reading a text file as decoded chunks, without loading it whole: UTF-8 with or without a BOM.
// Invalid bytes become U+FFFD (validation flags them per example); binary files and UTF-16 are
// refused up front, since decoding them as UTF-8 would produce nothing but noise.
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { DataError } from '../errors.js';

const CHUNK_BYTES = 256 * 1024;

/** Refuses what is not UTF-8 text, looking at the first bytes only. */
export function assertTextHead(head: Uint8Array, path: string): void {
  const name = basename(path);
  if (head.length === 0) {
    throw new DataError(
      'empty-file',
      `${name} is empty (0 bytes).`,
      'Choose a file that holds your examples.',
    );
  }
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    throw new DataError(
      'unsupported-encoding',
      `${name} is saved as UTF-16; Tunesmith reads UTF-8.`,
      'Open it in a spreadsheet or text editor and save it as "CSV UTF-8" (or UTF-8 text), then import it again.',
    );
  }
  const nul = head.indexOf(0);
  if (nul >= 0) {
    throw new DataError(
      'binary-file',
      `${name} does not look like a text file: it holds binary data (a zero byte at byte ${nul + 1}).`,
      'Tunesmith imports CSV, TSV, JSONL, JSON and Parquet files. Check that you picked the right file.',
    );
  }
}

/** Decoded text chunks of the file, in order. The BOM, if any, is dropped. */
export async function* readTextChunks(path: string): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let first = true;
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) {
    const bytes = chunk as Buffer;
    if (first) {
      assertTextHead(bytes.subarray(0, 8192), path);
      first = false;
    } else if (bytes.includes(0)) {
      throw new DataError(
        'binary-file',
        `${basename(path)} holds binary data (a zero byte) past its start; it is not a text file.`,
        'Tunesmith imports CSV, TSV, JSONL, JSON and Parquet files. Check that you picked the right file.',
      );
    }
    const text = decoder.decode(bytes, { stream: true });
    if (text) yield text;
  }
  if (first) assertTextHead(new Uint8Array(0), path);
  const rest = decoder.decode();
  if (rest) yield rest;
}
