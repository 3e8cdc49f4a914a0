// The first schema: models, datasets (versioned, examples shared between versions), runs and what a
// run produces (metrics, checkpoints, samples, exports, events).
//
// Conventions: every table is STRICT; times are INTEGER unix milliseconds; JSON is TEXT guarded by
// json_valid(); enumerations are CHECKed. Children of a run are deleted with it. A run keeps its row
// (with its config) when its model or dataset version is removed: those references become NULL.
// `metrics.value` is nullable because SQLite stores NaN as NULL; a diverged loss must still be recorded.
import type { Migration } from '../migrate.js';

export const migration0001: Migration = {
  version: 1,
  name: 'initial-schema',
  up(db) {
    db.exec(`
      CREATE TABLE models (
        id            INTEGER PRIMARY KEY,
        name          TEXT    NOT NULL,
        path          TEXT    NOT NULL UNIQUE,
        architecture  TEXT    NOT NULL,
        source        TEXT    NOT NULL CHECK (source IN ('local', 'download', 'demo')),
        params        INTEGER,
        config_hash   TEXT,
        size_bytes    INTEGER NOT NULL CHECK (size_bytes >= 0),
        status        TEXT    NOT NULL CHECK (status IN ('ready', 'downloading', 'incomplete', 'missing')),
        meta          TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(meta)),
        created_at    INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE datasets (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE dataset_versions (
        id                 INTEGER PRIMARY KEY,
        dataset_id         INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
        version            INTEGER NOT NULL CHECK (version >= 1),
        parent_version_id  INTEGER REFERENCES dataset_versions (id) ON DELETE SET NULL,
        source_path        TEXT,
        source_format      TEXT,
        mapping            TEXT CHECK (json_valid(mapping)),
        note               TEXT,
        example_count      INTEGER NOT NULL CHECK (example_count >= 0),
        train_count        INTEGER CHECK (train_count >= 0),
        eval_count         INTEGER CHECK (eval_count >= 0),
        created_at         INTEGER NOT NULL,
        UNIQUE (dataset_id, version)
      ) STRICT;
      CREATE INDEX dataset_versions_parent ON dataset_versions (parent_version_id);

      -- One row per distinct example; versions point at examples through dataset_version_examples,
      -- so an edit that changes ten rows of 100k adds ten examples, not 100k.
      CREATE TABLE examples (
        id            INTEGER PRIMARY KEY,
        messages      TEXT NOT NULL CHECK (json_valid(messages) AND json_type(messages) = 'array'),
        source_row    TEXT CHECK (json_valid(source_row)),
        content_hash  TEXT NOT NULL
      ) STRICT;
      CREATE INDEX examples_content_hash ON examples (content_hash);

      CREATE TABLE dataset_version_examples (
        version_id  INTEGER NOT NULL REFERENCES dataset_versions (id) ON DELETE CASCADE,
        ordinal     INTEGER NOT NULL CHECK (ordinal >= 0),
        example_id  INTEGER NOT NULL REFERENCES examples (id) ON DELETE RESTRICT,
        split       TEXT CHECK (split IN ('train', 'eval')),
        PRIMARY KEY (version_id, ordinal)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX dataset_version_examples_example ON dataset_version_examples (example_id);

      -- AUTOINCREMENT: a run's files live in runs/<id>/, so an id is never handed out twice.
      CREATE TABLE runs (
        id                  INTEGER PRIMARY KEY AUTOINCREMENT,
        name                TEXT    NOT NULL,
        model_id            INTEGER REFERENCES models (id) ON DELETE SET NULL,
        dataset_version_id  INTEGER REFERENCES dataset_versions (id) ON DELETE SET NULL,
        config              TEXT    NOT NULL CHECK (json_valid(config)),
        status              TEXT    NOT NULL CHECK (status IN
                              ('created', 'queued', 'running', 'paused', 'completed', 'failed', 'cancelled')),
        backend             TEXT,
        device              TEXT,
        created_at          INTEGER NOT NULL,
        started_at          INTEGER,
        finished_at         INTEGER,
        error               TEXT CHECK (json_valid(error))
      ) STRICT;
      CREATE INDEX runs_created_at ON runs (created_at);
      CREATE INDEX runs_status ON runs (status);
      CREATE INDEX runs_model ON runs (model_id);
      CREATE INDEX runs_dataset_version ON runs (dataset_version_id);

      CREATE TABLE metrics (
        run_id  INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step    INTEGER NOT NULL CHECK (step >= 0),
        name    TEXT    NOT NULL,
        value   REAL,
        at      INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX metrics_run_name_step ON metrics (run_id, name, step);

      CREATE TABLE checkpoints (
        id          INTEGER PRIMARY KEY,
        run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step        INTEGER NOT NULL CHECK (step >= 0),
        path        TEXT    NOT NULL,
        size_bytes  INTEGER NOT NULL CHECK (size_bytes >= 0),
        eval_loss   REAL,
        created_at  INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX checkpoints_run_step ON checkpoints (run_id, step);

      CREATE TABLE samples (
        id          INTEGER PRIMARY KEY,
        run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step        INTEGER NOT NULL CHECK (step >= 0),
        prompt      TEXT    NOT NULL,
        output      TEXT    NOT NULL,
        stopped     INTEGER NOT NULL CHECK (stopped IN (0, 1)),
        created_at  INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX samples_run_step ON samples (run_id, step);

      CREATE TABLE exports (
        id             INTEGER PRIMARY KEY,
        run_id         INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        checkpoint_id  INTEGER REFERENCES checkpoints (id) ON DELETE SET NULL,
        kind           TEXT    NOT NULL CHECK (kind IN
                         ('peft', 'gguf-adapter', 'gguf-base', 'gguf-merged', 'hf-merged', 'ollama')),
        path           TEXT    NOT NULL,
        status         TEXT    NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
        error          TEXT CHECK (json_valid(error)),
        meta           TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(meta)),
        created_at     INTEGER NOT NULL,
        finished_at    INTEGER
      ) STRICT;
      CREATE INDEX exports_run ON exports (run_id);
      CREATE INDEX exports_checkpoint ON exports (checkpoint_id);

      CREATE TABLE events (
        id       INTEGER PRIMARY KEY,
        run_id   INTEGER REFERENCES runs (id) ON DELETE CASCADE,
        at       INTEGER NOT NULL,
        level    TEXT    NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
        kind     TEXT    NOT NULL,
        message  TEXT    NOT NULL,
        data     TEXT CHECK (json_valid(data))
      ) STRICT;
      CREATE INDEX events_run ON events (run_id, id);
    `);
  },
};
