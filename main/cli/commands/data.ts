// `tunesmith data …`: import, inspect and check datasets.
import { commandGroup } from '../group.js';
import { dataCheckCommand } from './data/check.js';
import { dataImportCommand } from './data/import.js';
import { dataListCommand } from './data/list.js';
import { dataShowCommand } from './data/show.js';

export const dataCommand = commandGroup('data', 'import, inspect and check datasets', [
  dataImportCommand,
  dataListCommand,
  dataShowCommand,
  dataCheckCommand,
]);
