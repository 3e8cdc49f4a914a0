// Composition of the core services for one home folder: used by `tunesmith serve`, the Electron
// app and tests. Opening fails with a HomeError or StoreError that says what to do.
import { ChatService } from './chat/service.js';
import { DatasetService } from './data/datasets.js';
import { TokenizerCache } from './data/tokenizer-cache.js';
import { SessionCache } from './engine/session-cache.js';
import { RunExports } from './export/run-export.js';
import { type HomePaths, openHome } from './home.js';
import { type LibraryOptions, ModelLibrary } from './models/library.js';
import { RunService, type RunServiceOptions } from './runs/service.js';
import { openStore, type Store } from './store/index.js';

export interface CoreServices {
  homeDir: string;
  paths: HomePaths;
  store: Store;
  datasets: DatasetService;
  models: ModelLibrary;
  runs: RunService;
  /** Loaded tokenizers by model folder (the data step's preview and lengths, chat). */
  tokenizers: TokenizerCache;
  /** Chat with a run's checkpoint or a model; keeps model sessions loaded between turns. */
  chat: ChatService;
  /** A run's checkpoint exported from the app, recorded with its outcome and lineage. */
  runExports: RunExports;
  close(): void;
}

/** `library` overrides the model library's knobs (tests: the machine, the Hub's fetch, disk space). */
export function openCoreServices(
  homeDir: string,
  library: Omit<LibraryOptions, 'modelsDir'> = {},
  runOptions: Pick<RunServiceOptions, 'trainerEnv' | 'launchTrainer' | 'trainerEntry'> = {},
): CoreServices {
  const paths = openHome(homeDir);
  const store = openStore(paths.database);
  const datasets = new DatasetService(store, { tempDir: paths.cache });
  const runs = new RunService({ store, paths, datasets, ...runOptions });
  const tokenizers = new TokenizerCache();
  const chat = new ChatService({ store, sessions: new SessionCache(), tokenizers });
  return {
    homeDir,
    paths,
    store,
    datasets,
    models: new ModelLibrary(store, { ...library, modelsDir: paths.models }),
    runs,
    tokenizers,
    chat,
    runExports: new RunExports({ store, exportsDir: paths.exports }),
    close: () => {
      chat.close();
      runs.close();
      store.close();
    },
  };
}
