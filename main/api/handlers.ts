// Command handlers: a few lines each, input already validated by dispatch(); the work is in core.
import { join } from 'node:path';
import { TextCoalescer } from '../core/chat/coalesce.js';
import { LengthCache } from '../core/data/lengths.js';
import { previewExample } from '../core/data/preview.js';
import { importUpload } from '../core/data/upload.js';
import { buildDoctorReport } from '../core/doctor.js';
import { ensureDemoModel } from '../core/models/demo.js';
import { resolveHubToken } from '../core/models/hub/token.js';
import { compareCheckpoints } from '../core/runs/compare.js';
import { planRun } from '../core/runs/plan.js';
import type { CoreServices } from '../core/services.js';
import type { Handlers } from './dispatch.js';
import type { EventBus } from './events.js';

export interface HandlerDeps {
  services: CoreServices;
  bus: EventBus;
  /** Shows a file or folder in the system's file manager (the desktop app); absent under serve. */
  openPath?: (path: string) => Promise<boolean>;
  /** The desktop app's folder chooser: the chosen folder, or null when the person cancelled. */
  chooseFolder?: (title: string) => Promise<string | null>;
}

export function createHandlers({ services, bus, openPath, chooseFolder }: HandlerDeps): Handlers {
  const { store, homeDir, paths, datasets, models, runs, tokenizers, chat, runExports } = services;
  runs.subscribe((event) => bus.emit('runs.event', event));
  const lengths = new LengthCache(store, tokenizers);
  return {
    'system.doctor': () => buildDoctorReport({ homeDir, store }),
    'system.openPath': async ({ path }) => ({ opened: openPath ? await openPath(path) : false, path }),
    'system.chooseFolder': async ({ title = 'Choose a folder' }) =>
      chooseFolder ? { available: true, path: await chooseFolder(title) } : { available: false, path: null },
    'models.list': async ({ limit }) => (await models.list()).slice(0, limit),
    'models.catalogue': () => models.catalogue(),
    'models.add': ({ path }) => models.add(path),
    'models.remove': ({ id, deleteFiles }) => models.remove(id, { deleteFiles }),
    // Without a token from the app, the server's own (HF_TOKEN, `hf auth login`) is used.
    'models.download': ({ repoId, token = resolveHubToken().token, ...request }) =>
      models.download(repoId, {
        ...request,
        ...(token !== undefined && { token }),
        onProgress: (snapshot) => bus.emit('models.downloadProgress', snapshot),
      }),
    'models.cancelDownload': ({ repoId }) => ({ cancelled: models.cancelDownload(repoId) }),
    'models.createDemo': () => ensureDemoModel(paths.models, models),
    'datasets.list': ({ limit }) => store.datasets.list({ limit }),
    'datasets.import': ({ path, evalPath, ...options }) =>
      datasets.importFile(path, { ...options, ...(evalPath !== undefined && { evalFile: evalPath }) }),
    'datasets.get': ({ versionId, datasetId }) =>
      datasets.get(versionId ?? datasets.latestVersion(datasetId ?? 0).id),
    'datasets.examples': ({ versionId, offset, limit, search, onlyIssues }) =>
      datasets.examples(versionId, offset, limit, {
        ...(search !== undefined && { search }),
        ...(onlyIssues !== undefined && { onlyIssues }),
      }),
    'datasets.upload': ({ fileName, content, encoding, ...options }) =>
      importUpload(datasets, join(paths.root, 'uploads'), { fileName, content, encoding }, options),
    'datasets.preview': (request) => previewExample(store, tokenizers, request),
    'datasets.lengths': (request) => lengths.lengths(request),
    'datasets.edit': ({ versionId, ...edit }) => datasets.editVersion(versionId, edit),
    'runs.list': ({ limit }) => store.runs.listRecent({ limit }),
    'runs.plan': (request) =>
      planRun(
        { store, datasets, cacheDir: paths.cache, loadTokenizer: (dir) => tokenizers.get(dir) },
        request,
      ),
    'runs.create': (request) => runs.create(request),
    'runs.compare': (request) => compareCheckpoints(store, tokenizers, request),
    'runs.start': ({ runId }) => runs.launch(runId),
    'runs.pause': ({ runId }) => runs.pause(runId),
    'runs.resume': ({ runId }) => runs.launch(runId, { resume: true }),
    'runs.cancel': ({ runId }) => runs.cancel(runId),
    'runs.get': ({ runId }) => runs.get(runId),
    'runs.metrics': ({ runId }) => runs.metrics(runId),
    'chat.generate': async (request) => {
      // Text pieces are merged to at most 20 events a second; the rest goes out before the reply.
      const tokens = new TextCoalescer((text) =>
        bus.emit('chat.token', { requestId: request.requestId, text }),
      );
      try {
        return await chat.generate(request, (text) => tokens.push(text));
      } finally {
        tokens.flush();
      }
    },
    'chat.cancel': ({ requestId }) => ({ cancelled: chat.cancel(requestId) }),
    'exports.list': ({ limit }) => store.exports.list({ limit }),
    'exports.create': (request) =>
      runExports.create(request, (progress) => bus.emit('exports.progress', progress)),
    'exports.get': ({ exportId }) => runExports.get(exportId),
    'exports.ollamaCreate': ({ exportId, name }) =>
      runExports.ollamaCreate(exportId, name, (progress) => bus.emit('exports.progress', progress)),
  };
}
