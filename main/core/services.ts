// Composition of the core services for one home folder: used by `tunesmith serve`, the Electron
// app and tests. Opening fails with a HomeError or StoreError that says what to do.
import { join } from 'node:path';
import { openHome } from './home.js';
import { openStore, type Store } from './store/index.js';

export interface CoreServices {
  homeDir: string;
  store: Store;
  close(): void;
}

export const DATABASE_FILE = 'tunesmith.db';

export function openCoreServices(homeDir: string): CoreServices {
  openHome(homeDir);
  const store = openStore(join(homeDir, DATABASE_FILE));
  return {
    homeDir,
    store,
    close: () => store.close(),
  };
}
