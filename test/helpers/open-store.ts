// Child process for test/integration/store-kill.test.ts: opens (and so creates and migrates) the
// store, prints "opened <schema version>", closes it. Several run at once on one new database.
//
// Usage: node --import tsx test/helpers/open-store.ts <db path>
import { openStore } from '../../main/core/store/index.js';

const dbPath = process.argv[2];
if (!dbPath) {
  process.stderr.write('usage: open-store.ts <db path>\n');
  process.exit(2);
}
const store = openStore(dbPath);
process.stdout.write(`opened ${store.status().schemaVersion}\n`);
store.close();
