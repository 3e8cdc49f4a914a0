// The SQLite store: open it with openStore(); use its repositories; close it.
export {
  isCorruptionError,
  StoreError,
  type StoreErrorCode,
  type StoreErrorData,
} from './errors.js';
export { type Migration, runMigrations } from './migrate.js';
export { LATEST_VERSION, MIGRATIONS } from './migrations/index.js';
export type { CheckpointRow, CheckpointsRepo, NewCheckpoint } from './repos/checkpoints.js';
export type { ErrorData, ListOptions } from './repos/common.js';
export {
  type ChatMessage,
  type ChatRole,
  type DatasetListItem,
  type DatasetRow,
  type DatasetsRepo,
  type DatasetVersionRow,
  exampleContentHash,
  type NewDatasetVersion,
  type NewVersionExample,
  type PageOptions,
  type Split,
  type VersionExample,
} from './repos/datasets.js';
export type { EventLevel, EventQuery, EventRow, EventsRepo, NewEvent } from './repos/events.js';
export type {
  ExportKind,
  ExportOutcome,
  ExportRow,
  ExportStatus,
  ExportsRepo,
  NewExport,
} from './repos/exports.js';
export type { MetricPoint, MetricsRepo, SeriesOptions, SeriesPoint } from './repos/metrics.js';
export type { MetricsWriter, MetricsWriterOptions } from './repos/metrics-writer.js';
export type { ModelRow, ModelSource, ModelStatus, ModelsRepo, NewModel } from './repos/models.js';
export {
  FINISHED_RUN_STATUSES,
  type NewRun,
  type RunRow,
  type RunStatus,
  type RunsRepo,
  type StatusChange,
} from './repos/runs.js';
export type { NewSample, SampleRow, SamplesRepo } from './repos/samples.js';
export { type CountedTable, type OpenStoreOptions, openStore, Store, type StoreStatus } from './store.js';
