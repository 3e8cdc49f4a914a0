// `tunesmith models …`: base models on disk.
import { commandGroup } from '../group.js';
import { addCommand } from './models/add.js';
import { createTinyCommand } from './models/create-tiny.js';
import { downloadCommand } from './models/download.js';
import { inspectCommand } from './models/inspect.js';
import { listCommand } from './models/list.js';
import { removeCommand } from './models/remove.js';

export const modelsCommand = commandGroup('models', 'create, inspect and manage base models', [
  listCommand,
  addCommand,
  downloadCommand,
  removeCommand,
  createTinyCommand,
  inspectCommand,
]);
