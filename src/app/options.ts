// Settings to the options each service takes: the mapping from Config, kept out of the order of things.
import type { HubOptions } from '../channels/hub.js';
import type { RoomServiceOptions } from '../channels/rooms.js';
import type { Config } from '../config.js';
import { MAX_TIMEOUT_S } from '../gateway/routes/rooms.js';
import type { IngestManagerOptions } from '../ingest/manager.js';

export const hubOptions = (c: Config): HubOptions => ({
  replaySize: c.replaySize,
  moodWindowS: c.moodWindowS,
  moodLongWindowS: c.moodLongWindowS,
  moodTickMs: c.moodTickMs,
  batchTickMs: c.batchTickMs,
  controlTickMs: 250,
  // Presence entries expire in Redis unless refreshed; in one process they do not.
  presenceRefreshMs: c.redisUrl === undefined ? 0 : Math.max(500, Math.floor(c.presenceTtlMs / 3)),
});

export const ingestOptions = (c: Config): IngestManagerOptions => ({
  leaseTtlMs: c.ingest.leaseTtlMs,
  scanMs: c.ingest.scanMs,
  maxOwned: c.ingest.maxOwned,
  maxStreams: c.ingest.maxStreams,
  maxStreamsPerUser: c.quotas.ingestStreamsPerUser,
  retryEndedMs: c.ingest.retryEndedMs,
  retryErrorMs: c.ingest.retryErrorMs,
});

export const roomOptions = (c: Config, onRemove: RoomServiceOptions['onRemove']): RoomServiceOptions => ({
  maxRooms: c.maxRooms,
  maxRoomsPerUser: c.quotas.roomsPerUser,
  maxTimeoutS: MAX_TIMEOUT_S,
  onRemove,
});
