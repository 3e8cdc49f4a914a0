// The weights of a Hugging Face model folder: `model.safetensors`, or shards listed by
// `model.safetensors.index.json` (formats.md §5.2):
//   {"metadata": {"total_size": <bytes of tensor data>, …}, "weight_map": {"<tensor>": "<shard file>"}}
// Every shard's header is read and checked, and the index must agree with the shards exactly: each
// tensor in the shard the index names, no tensor twice, none unlisted. `total_size` disagreeing is only
// a warning (writers count shared storage differently).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FormatError } from './errors.js';
import { readSafetensorsHeader, type SafetensorsHeader, type TensorInfo } from './safetensors.js';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

export interface WeightsLayout {
  kind: 'single' | 'sharded';
  /** Headers of every weights file, in the order of the index's first mention (or the single file). */
  files: SafetensorsHeader[];
  /** Every tensor with the file holding it. */
  tensors: Map<string, { file: string; info: TensorInfo }>;
  /** Bytes on disk of all weights files (and the index). */
  sizeBytes: number;
  warnings: string[];
}

function indexError(file: string, what: string, hint: string): FormatError {
  return new FormatError({ code: 'bad-index', path: file, message: `${file}: ${what}. ${hint}`, hint });
}

export async function readWeightsLayout(dir: string): Promise<WeightsLayout> {
  const indexPath = path.join(dir, INDEX_FILE);
  if (await isFile(indexPath)) return readSharded(dir, indexPath);
  const single = path.join(dir, SINGLE_FILE);
  if (!(await isFile(single))) {
    const hint = `A Hugging Face model folder holds ${SINGLE_FILE}, or shards with ${INDEX_FILE}; download the model's safetensors weights (not only .bin or .gguf files).`;
    throw new FormatError({
      code: 'not-found',
      path: dir,
      message: `${dir} has no ${SINGLE_FILE} and no ${INDEX_FILE}. ${hint}`,
      hint,
    });
  }
  const header = await readSafetensorsHeader(single);
  return {
    kind: 'single',
    files: [header],
    tensors: new Map(header.tensors.map((info) => [info.name, { file: single, info }])),
    sizeBytes: header.fileSize,
    warnings: [],
  };
}

async function readSharded(dir: string, indexPath: string): Promise<WeightsLayout> {
  const redownload = 'Download the model again, index and shards from the same revision.';
  let json: unknown;
  try {
    json = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (err) {
    throw indexError(indexPath, `not valid JSON (${(err as Error).message})`, redownload);
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw indexError(indexPath, 'has no "weight_map" object', redownload);
  }
  const shardOf = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || path.basename(shard) !== shard || !shard.endsWith('.safetensors')) {
      throw indexError(
        indexPath,
        `"weight_map" sends tensor "${tensor}" to ${JSON.stringify(shard)}, which is not a .safetensors file name in this folder`,
        redownload,
      );
    }
    shardOf.set(tensor, shard);
  }
  if (shardOf.size === 0) throw indexError(indexPath, '"weight_map" lists no tensors', redownload);

  const shardNames = [...new Set(shardOf.values())];
  const files: SafetensorsHeader[] = [];
  const tensors: WeightsLayout['tensors'] = new Map();
  let sizeBytes = (await stat(indexPath)).size;
  for (const shard of shardNames) {
    const shardPath = path.join(dir, shard);
    if (!(await isFile(shardPath))) {
      const example = [...shardOf].find(([, s]) => s === shard)?.[0];
      throw indexError(
        indexPath,
        `lists shard ${shard} (for "${example}" and others) but ${shardPath} is missing`,
        redownload,
      );
    }
    const header = await readSafetensorsHeader(shardPath);
    files.push(header);
    sizeBytes += header.fileSize;
    for (const info of header.tensors) {
      const listed = shardOf.get(info.name);
      if (listed === undefined) {
        throw indexError(indexPath, `does not list tensor "${info.name}", which is in ${shard}`, redownload);
      }
      if (listed !== shard) {
        throw indexError(
          indexPath,
          `says tensor "${info.name}" is in ${listed}, but it is in ${shard}`,
          redownload,
        );
      }
      const earlier = tensors.get(info.name);
      if (earlier) {
        throw indexError(
          indexPath,
          `tensor "${info.name}" is in both ${earlier.file} and ${shardPath}`,
          redownload,
        );
      }
      tensors.set(info.name, { file: shardPath, info });
    }
  }
  for (const [tensor, shard] of shardOf) {
    if (!tensors.has(tensor)) {
      throw indexError(
        indexPath,
        `lists tensor "${tensor}" in ${shard}, but that shard does not hold it`,
        redownload,
      );
    }
  }

  const warnings: string[] = [];
  const totalSize = (json as { metadata?: { total_size?: unknown } }).metadata?.total_size;
  const dataBytes = [...tensors.values()].reduce((n, { info }) => n + info.end - info.begin, 0);
  if (typeof totalSize === 'number' && totalSize !== dataBytes) {
    warnings.push(
      `${indexPath}: "metadata.total_size" is ${totalSize} but the shards hold ${dataBytes} bytes of tensors (harmless if the shards check out).`,
    );
  }
  return { kind: 'sharded', files, tensors, sizeBytes, warnings };
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}
