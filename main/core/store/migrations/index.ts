// Every migration, in order. A new migration is a new file plus one line here; an applied migration
// is never edited. Listed by hand (no directory scan) so that bundlers see every file.
import type { Migration } from '../migrate.js';
import { migration0001 } from './0001-initial-schema.js';

export const MIGRATIONS: readonly Migration[] = [migration0001];

export const LATEST_VERSION: number = MIGRATIONS.at(-1)?.version ?? 0;
