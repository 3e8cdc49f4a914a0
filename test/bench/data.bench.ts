// The data path end to end: import (JSONL through the importer into a throwaway store) → validate →
// template (ChatML) → tokenize with the trained mask → token file, on a generated dataset of about
// --tokens tokens, once with a byte-level BPE tokenizer (Qwen3) and once with a SentencePiece-style
// one (Llama-2, Mistral [INST] template). Reference in the same process: plain whole-string
// tokenizer.encode of the same rendered texts, so the ratio shows what segment-wise masking costs.
// Each (tokenizer, size) runs in its own child process so that its peak RSS is its own; a run at a
// tenth of the size shows whether peak memory grows with the file. The children run with a V8 heap
// cap (HEAP_CAP_MIB): a live set that grew with the file would run out of it. Without a cap V8 lets
// RSS drift up with the volume allocated (seen: 260 → 383 MiB for Qwen3 at 1M → 10M tokens) while
// the live heap after a collection stays about 55 MiB.
//
// Run: npm run bench:data [-- --tokens 10000000]
// Lines: data <tokenizer> <size>: pipeline <tok/s> tok/s (import <s> s, tokenize+mask+write <s> s),
//        whole-string encode <tok/s> tok/s, ratio <x>, peak RSS: import <MiB> MiB, tokenize phase <MiB> MiB
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ExampleInput } from '../../main/core/data/audit.js';
import { openAuditor, versionExamples } from '../../main/core/data/check.js';
import { DatasetService } from '../../main/core/data/datasets.js';
import { createTemplate, renderedText } from '../../main/core/data/template/index.js';
import { TokenFileWriter } from '../../main/core/data/token-file.js';
import { loadModelTokenizer } from '../../main/core/data/tokenize.js';
import { checkExample } from '../../main/core/data/validate.js';
import { openStore } from '../../main/core/store/index.js';
import { makeTokenizerFolder, type TokenizerFamily } from '../helpers/tokenizer-folder.js';

const { values } = parseArgs({
  options: {
    tokens: { type: 'string', default: '10000000' },
    child: { type: 'string' },
    file: { type: 'string' },
    family: { type: 'string' },
  },
});

const HEAP_CAP_MIB = 256;
const TEMPLATE_OF: Record<string, 'chatml' | 'mistral'> = { qwen3: 'chatml', llama2: 'mistral' };

// ---- data generation --------------------------------------------------------------------------
const COMMON = `the of and to a in is it you that he was for on are with as I his they be at one have this
from or had by hot word but what some we can out other were all there when up use your how said an each
she which do their time if will way about many then them write would like so these her long make thing see
him two has look more day could go come did number sound no most people my over know water than call first
who may down side been now find any new work part take get place made live where after back little only
round man year came show every good me give our under name very through just form sentence great think say
help low line differ turn cause much mean before move right boy old too same tell does set three want air
well also play small end put home read hand port large spell add even land here must big high such follow`.split(
  /\s+/,
);
const SYLLABLES = [
  'ka',
  'ri',
  'mo',
  'zen',
  'tal',
  'qu',
  'ex',
  'pho',
  'lin',
  'dra',
  'vy',
  'sto',
  'ne',
  'gru',
  'bel',
];

function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sentence(next: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    const r = next();
    if (r < 0.8) out.push(COMMON[Math.floor(next() * COMMON.length)]!);
    else if (r < 0.93) {
      let w = '';
      for (let s = 1 + Math.floor(next() * 3); s > 0; s--)
        w += SYLLABLES[Math.floor(next() * SYLLABLES.length)];
      out.push(w);
    } else if (r < 0.97) out.push(String(Math.floor(next() * 100000)));
    else out.push('台灣的山很高');
  }
  const text = out.join(' ');
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${next() < 0.8 ? '.' : '?'}`;
}

/** A JSONL file of chat examples; about 3.7 characters per token for this text. */
function generate(file: string, tokens: number): void {
  const next = random(42);
  const fd = openSync(file, 'w');
  let chars = 0;
  let buffer = '';
  while (chars < tokens * 3.7) {
    const messages = [{ role: 'system', content: 'You are a helpful assistant.' }];
    for (let turns = 1 + Math.floor(next() * 2); turns > 0; turns--) {
      messages.push({ role: 'user', content: sentence(next, 8 + Math.floor(next() * 30)) });
      const reply: string[] = [];
      for (let s = 2 + Math.floor(next() * 10); s > 0; s--)
        reply.push(sentence(next, 6 + Math.floor(next() * 20)));
      messages.push({ role: 'assistant', content: reply.join(next() < 0.3 ? '\n' : ' ') });
    }
    const line = `${JSON.stringify({ messages })}\n`;
    chars += line.length;
    buffer += line;
    if (buffer.length > 1 << 20) {
      writeSync(fd, buffer);
      buffer = '';
    }
  }
  writeSync(fd, buffer);
  closeSync(fd);
}

// ---- one measured run (child process) ----------------------------------------------------------
async function child(family: TokenizerFamily, file: string): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tunesmith-bench-data-'));
  try {
    const model = loadModelTokenizer(makeTokenizerFolder(family, path.join(dir, 'model')));
    const templateName = TEMPLATE_OF[family]!;
    const store = openStore(path.join(dir, 'bench.db'));
    const t0 = performance.now();
    const { version } = await new DatasetService(store, { tempDir: dir }).importFile(file);
    const t1 = performance.now();
    const importPeakMiB = process.resourceUsage().maxRSS / 1024;
    // RSS sampled once per chunk from here on: the tokenize phase's own peak, whatever import took.
    let tokenizePeakMiB = 0;
    const sampleRss = () => {
      tokenizePeakMiB = Math.max(tokenizePeakMiB, process.memoryUsage.rss() / 2 ** 20);
    };
    const auditor = openAuditor(model, { template: templateName, maxLen: 1 << 20 });
    const writer = new TokenFileWriter(path.join(dir, 'bench.tokens'), {
      dataset: 'bench',
      tokenizerHash: model.hash,
      template: templateName,
      maxLen: 1 << 20,
      tooLong: 'report',
    });
    // The pipeline and the reference (whole-string encode of the same rendered texts; rendering not
    // timed) alternate every CHUNK examples, so machine load and JIT warm-up hit both alike.
    const template = createTemplate(templateName, model.context, model.specialTokens);
    const CHUNK = 200;
    let pipelineMs = 0;
    let referenceMs = 0;
    let referenceTokens = 0;
    let chunk: ExampleInput[] = [];
    let chunks = 0;
    const runPipeline = () => {
      const s = performance.now();
      for (const example of chunk) {
        const validation = checkExample({ ordinal: example.ordinal, messages: example.messages });
        const audited = auditor.add(example, validation);
        if (audited) writer.add(example.ordinal, audited.tokens.ids, audited.tokens.trained);
      }
      pipelineMs += performance.now() - s;
    };
    const runReference = () => {
      const texts = chunk.map((e) => renderedText(template.render(e.messages as never)));
      const s = performance.now();
      for (const text of texts)
        referenceTokens += model.tokenizer.encode(text, { add_special_tokens: false }).ids.length;
      referenceMs += performance.now() - s;
    };
    // Whichever runs second finds the tokenizer's word cache warm: take turns going first.
    const runChunk = () => {
      sampleRss();
      if (chunks++ % 2 === 0) {
        runPipeline();
        runReference();
      } else {
        runReference();
        runPipeline();
      }
      chunk = [];
    };
    for (const example of versionExamples(store, version.id)) {
      chunk.push(example);
      if (chunk.length === CHUNK) runChunk();
    }
    runChunk();
    const s = performance.now();
    writer.finish();
    pipelineMs += performance.now() - s;
    sampleRss();
    const report = auditor.report();
    store.close();
    process.stdout.write(
      `${JSON.stringify({
        examples: report.examples,
        blocking: report.blockingCount,
        tokens: report.totalTokens,
        trained: report.trainedTokens,
        importS: (t1 - t0) / 1000,
        pipelineS: pipelineMs / 1000,
        referenceTokens,
        referenceS: referenceMs / 1000,
        importPeakMiB,
        tokenizePeakMiB,
      })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- driver -------------------------------------------------------------------------------------
async function main(): Promise<void> {
  const target = Number(values.tokens);
  const dir = mkdtempSync(path.join(tmpdir(), 'tunesmith-bench-data-'));
  try {
    const sizes = [
      { label: 'small', tokens: Math.round(target / 10) },
      { label: 'full', tokens: target },
    ];
    for (const size of sizes) {
      const file = path.join(dir, `${size.label}.jsonl`);
      generate(file, size.tokens);
      console.log(`generated ${file}: ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB`);
    }
    console.log(`each run in a child process with a ${HEAP_CAP_MIB} MiB V8 heap cap`);
    for (const family of ['qwen3', 'llama2'] as const) {
      for (const size of sizes) {
        const out = execFileSync(
          process.execPath,
          [
            ...process.execArgv,
            `--max-old-space-size=${HEAP_CAP_MIB}`,
            import.meta.filename,
            '--child',
            family,
            '--file',
            path.join(dir, `${size.label}.jsonl`),
          ],
          { encoding: 'utf8', maxBuffer: 1 << 24, stdio: ['ignore', 'pipe', 'inherit'] },
        );
        const r = JSON.parse(out.trim().split('\n').at(-1)!);
        const pipelineRate = r.tokens / (r.importS + r.pipelineS);
        const maskRate = r.tokens / r.pipelineS;
        const referenceRate = r.referenceTokens / r.referenceS;
        console.log(
          `data ${family} ${size.label} (${(r.tokens / 1e6).toFixed(2)}M tokens, ${r.examples} examples, ${((100 * r.trained) / r.tokens).toFixed(0)}% trained${r.blocking ? `, ${r.blocking} BLOCKED` : ''}): ` +
            `pipeline ${Math.round(pipelineRate).toLocaleString('en-US')} tok/s ` +
            `(import ${r.importS.toFixed(1)} s, validate+template+tokenize+mask+write ${r.pipelineS.toFixed(1)} s = ${Math.round(maskRate).toLocaleString('en-US')} tok/s), ` +
            `whole-string encode ${Math.round(referenceRate).toLocaleString('en-US')} tok/s, ` +
            `ratio ${(maskRate / referenceRate).toFixed(2)}, ` +
            `peak RSS: import ${Math.round(r.importPeakMiB)} MiB, tokenize phase ${Math.round(r.tokenizePeakMiB)} MiB`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.child) await child(values.child as TokenizerFamily, values.file!);
else await main();
