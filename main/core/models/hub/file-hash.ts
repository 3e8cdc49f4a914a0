// The two hashes the Hugging Face Hub publishes for a file, computed by streaming the file from disk
// (shards are gigabytes; nothing is read whole): LFS files are identified by the SHA-256 of their
// content (`lfs.oid` in the tree listing), small files kept in git by their git blob id, the SHA-1 of
// "blob <size>\0" followed by the content (`oid`).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

export type HubHash = { kind: 'sha256'; value: string } | { kind: 'git-sha1'; value: string };

export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk);
  return hash.digest('hex');
}

export async function gitBlobSha1OfFile(file: string): Promise<string> {
  const { size } = await stat(file);
  const hash = createHash('sha1');
  hash.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk);
  return hash.digest('hex');
}

/** The git blob id of bytes in memory (the test hub and small files). */
export function gitBlobSha1(content: Uint8Array): string {
  return createHash('sha1').update(`blob ${content.byteLength}\0`).update(content).digest('hex');
}

export async function hashOfFile(file: string, kind: HubHash['kind']): Promise<string> {
  return kind === 'sha256' ? sha256OfFile(file) : gitBlobSha1OfFile(file);
}
