// The built-in demo model: a tiny Qwen2-shaped model with random weights and a real tokenizer, made
// under <home>/models/demo on first use and registered in the library as source 'demo'. Making it
// takes a moment, so concurrent callers share one attempt (per folder) instead of racing to write it.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LibraryModel, ModelLibrary } from './library.js';
import { createTinyModel } from './tiny.js';

export const DEMO_MODEL_FOLDER = 'demo';
export const DEMO_MODEL_NAME = 'Demo model (tiny, for trying things out)';

const inFlight = new Map<string, Promise<LibraryModel>>();

/** The demo model's library entry, making the folder and the entry when either is missing. */
export function ensureDemoModel(modelsDir: string, library: ModelLibrary): Promise<LibraryModel> {
  const dir = path.resolve(modelsDir, DEMO_MODEL_FOLDER);
  let pending = inFlight.get(dir);
  if (!pending) {
    pending = makeDemoModel(dir, library).finally(() => inFlight.delete(dir));
    inFlight.set(dir, pending);
  }
  return pending;
}

async function makeDemoModel(dir: string, library: ModelLibrary): Promise<LibraryModel> {
  if (!existsSync(path.join(dir, 'config.json'))) {
    await createTinyModel({ arch: 'qwen2', outDir: dir });
  }
  const existing = (await library.list()).find((m) => m.path === dir);
  if (existing) return existing;
  return (await library.add(dir, { source: 'demo', name: DEMO_MODEL_NAME })).model;
}
