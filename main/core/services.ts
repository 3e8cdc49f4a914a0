// Composition of the core services for one home folder: used by `tunesmith serve`, the Electron
// app and tests. Opening fails with a HomeError or StoreError that says what to do.
import { DatasetService } from './data/datasets.js';
import { type HomePaths, openHome } from './home.js';
import { openStore, type Store } from './store/index.js';

export interface CoreServices {
  homeDir: string;
  paths: HomePaths;
  store: Store;
  datasets: DatasetService;
  close(): void;
}

export function openCoreServices(homeDir: string): CoreServices {
  const paths = openHome(homeDir);
  const store = openStore(paths.database);
  return {
    homeDir,
    paths,
    store,
    datasets: new DatasetService(store, { tempDir: paths.cache }),
    close: () => store.close(),
  };
}
