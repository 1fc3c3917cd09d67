// Durable Raft storage: see README.md.
export { DiskStorage } from './disk-storage.js';
export { migrateToWal, openLogStorage, type LogLayout, type MigrationReport } from './layout.js';
export { WalStorage } from './wal-storage.js';
export type { DiskStorageOptions, RecoveryReport, SaveRequest, StorageStats } from './disk-storage.js';
export {
  CorruptLogError,
  CorruptSnapshotError,
  CorruptStateError,
  SnapshotOutOfDateError,
  StorageFailedError,
} from './errors.js';
