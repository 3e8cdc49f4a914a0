// `tunesmith models …`: base models on disk.
import { commandGroup } from '../group.js';
import { createTinyCommand } from './models/create-tiny.js';
import { inspectCommand } from './models/inspect.js';

export const modelsCommand = commandGroup('models', 'create, inspect and manage base models', [
  createTinyCommand,
  inspectCommand,
]);
