// Files sent by a client that has no path to give (a browser's drag-and-drop): the bytes are written
// to <home>/uploads/<time>-<random>/<file name>, imported exactly like a file on disk, and kept as the
// version's source. A failed import removes its upload, so a bad file leaves nothing behind.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DatasetService, ImportOptions, ImportResult } from './datasets.js';
import { DataError } from './errors.js';

export interface UploadedFile {
  fileName: string;
  content: string;
  encoding: 'utf8' | 'base64';
}

const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

/** The file's bytes, or a DataError saying why the upload cannot be a file. */
export function uploadBytes({ fileName, content, encoding }: UploadedFile): Buffer {
  const name = fileName.trim();
  if (!name || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new DataError(
      'bad-option',
      `"${fileName}" is not a file name.`,
      'Send the file under its own name, without any folder in front of it.',
    );
  }
  if (encoding === 'base64' && !BASE64.test(content)) {
    throw new DataError(
      'bad-option',
      `The contents of ${name} were sent as base64 but are not base64.`,
      'This is a bug in the app that sent the file; send it as utf8 text or as proper base64.',
    );
  }
  const bytes = Buffer.from(content, encoding);
  if (bytes.length === 0) {
    throw new DataError(
      'empty-file',
      `${name} is empty: there is nothing to import.`,
      'Choose the file that holds your examples (a CSV, JSONL, JSON or Parquet file).',
    );
  }
  return bytes;
}

/** A new folder name under uploads/: sortable by time, never reused. */
export function uploadFolderName(now = Date.now()): string {
  return `${now}-${randomBytes(4).toString('hex')}`;
}

export async function importUpload(
  datasets: DatasetService,
  uploadsDir: string,
  file: UploadedFile,
  options: Omit<ImportOptions, 'evalFile' | 'onProgress'> = {},
): Promise<ImportResult> {
  const bytes = uploadBytes(file);
  const folder = path.join(uploadsDir, uploadFolderName());
  const target = path.join(folder, file.fileName.trim());
  mkdirSync(folder, { recursive: true });
  try {
    writeFileSync(target, bytes);
    return await datasets.importFile(target, options);
  } catch (err) {
    rmSync(folder, { recursive: true, force: true });
    throw err;
  }
}
