// `tunesmith models download REPO_ID [--revision R] [--token-env VAR] [--endpoint URL] [--json]`:
// fetch a base model from the Hugging Face Hub into the library. Progress goes to stderr (a bar on a
// terminal, a line per file otherwise); Ctrl+C stops cleanly and the same command resumes.
import { resolveHome } from '../../../core/home.js';
import type { ProgressSnapshot } from '../../../core/models/hub/progress.js';
import { resolveHubEndpoint, resolveHubToken } from '../../../core/models/hub/token.js';
import { openCoreServices } from '../../../core/services.js';
import { onePositional, parseCommandArgs } from '../../args.js';
import type { CliCommand } from '../../types.js';
import { formatBytes } from './list.js';

const NAME = 'models download';

export const downloadCommand: CliCommand = {
  name: 'download',
  summary: 'download a base model from the Hugging Face Hub (resumable)',
  usage: [
    `Usage: tunesmith ${NAME} REPO_ID [--revision R] [--token-env VAR] [--endpoint URL] [--json]`,
    '',
    'Downloads the files training needs (config, tokenizer, safetensors weights and their index) of',
    'REPO_ID (e.g. Qwen/Qwen2.5-0.5B-Instruct) into the home folder, checks each file against the',
    "Hub's size and hash, and adds the model to the library. Interrupted (Ctrl+C, lost connection,",
    'full disk)? Run the same command again: it resumes where it stopped.',
    '',
    '  --revision R      branch, tag or commit (default main)',
    '  --token-env VAR   read the access token for a gated model from $VAR',
    '                    (default: $HF_TOKEN, else the token file of `hf auth login`)',
    '  --endpoint URL    the Hub to download from (default $HF_ENDPOINT, else https://huggingface.co)',
    '  --json            print the downloaded model as JSON',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        revision: { type: 'string' },
        'token-env': { type: 'string' },
        endpoint: { type: 'string' },
        json: { type: 'boolean' },
      },
      NAME,
    );
    const repoId = onePositional(positionals, 'model id, e.g. Qwen/Qwen2.5-0.5B-Instruct', NAME);
    const { token, source } = resolveHubToken(
      values['token-env'] !== undefined ? { tokenEnv: values['token-env'] } : {},
    );
    const endpoint = resolveHubEndpoint(values.endpoint);
    const services = openCoreServices(resolveHome(values.home));
    const controller = new AbortController();
    const onInterrupt = () => controller.abort();
    process.once('SIGINT', onInterrupt);
    process.once('SIGTERM', onInterrupt);
    const bar = process.stderr.isTTY ? new ProgressBar() : null;
    try {
      io.err(
        `Downloading ${repoId}${values.revision ? ` (${values.revision})` : ''} from ${endpoint}` +
          (source ? `, with the access token from ${source}` : ''),
      );
      const model = await services.models.download(repoId, {
        ...(values.revision !== undefined && { revision: values.revision }),
        ...(token !== undefined && { token }),
        endpoint,
        signal: controller.signal,
        ...(bar && { onProgress: (p: ProgressSnapshot) => bar.draw(p) }),
        onFile: (e) => {
          if (bar) return;
          io.err(
            `  ${e.file}  ${formatBytes(e.sizeBytes)}  ${e.status === 'done' ? 'done' : 'already here'}`,
          );
        },
      });
      bar?.clear();
      if (values.json) {
        io.out(JSON.stringify(model, null, 2));
        return 0;
      }
      io.out(
        [
          `${repoId} is ready: model ${model.id}, ${formatBytes(model.sizeBytes)} in ${model.path}`,
          `  commit         ${model.commit ?? '?'}`,
          `  chat template  ${model.chatTemplate === 'model' ? "the model's own" : 'ChatML (the model has none)'}`,
          ...(model.fit ? [`  fit            ${model.fit.verdict}`] : []),
        ].join('\n'),
      );
      return 0;
    } catch (err) {
      bar?.clear();
      if ((err as { code?: string }).code === 'download-cancelled') {
        io.err(`Stopped. ${(err as Error).message}`);
        return 130;
      }
      throw err;
    } finally {
      process.off('SIGINT', onInterrupt);
      process.off('SIGTERM', onInterrupt);
      services.close();
    }
  },
};

/** One line on stderr, redrawn in place: bar, bytes, speed, time left, file. */
class ProgressBar {
  #drawn = false;

  draw(p: ProgressSnapshot): void {
    const width = 24;
    const fraction = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : 0;
    const filled = Math.round(fraction * width);
    const speed = p.speed > 0 ? `${formatBytes(p.speed)}/s` : '';
    const eta = p.etaSeconds !== null && !p.done ? `ETA ${formatDuration(p.etaSeconds)}` : '';
    const line =
      `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ` +
      `${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}  ${speed}  ${eta}  ${p.file}`;
    const columns = process.stderr.columns || 100;
    process.stderr.write(`\r${line.slice(0, columns - 1).padEnd(columns - 1)}`);
    this.#drawn = true;
  }

  clear(): void {
    if (this.#drawn) process.stderr.write('\n');
    this.#drawn = false;
  }
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}
