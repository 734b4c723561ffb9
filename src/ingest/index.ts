// Ingestion: connectors for Twitch chat (tmi.js) and TikTok LIVE (tiktok-live-connector), and the manager
// that gives each defined stream exactly one owner in the cluster through leases.
export type { IngestBoard, StreamCounters, StreamState } from './board.js';
export { MemoryIngestBoard } from './board.js';
export { MemoryLeaseManager, type Lease, type LeaseManager } from './lease.js';
export { IngestManager, type IngestManagerOptions, type IngestView } from './manager.js';
export type { IngestConnection, IngestConnector, IngestEvent, SourceKind, IngestStatus, IngestedChat } from './source.js';
