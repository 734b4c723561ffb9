// Settings to the options each service takes: the mapping from Config, kept out of the order of things.
import type { HistoryOptions } from '../channels/history.js';
import type { HubOptions } from '../channels/hub.js';
import type { RoomLifecycleOptions } from '../channels/room-lifecycle.js';
import type { RoomServiceOptions } from '../channels/rooms.js';
import type { Config } from '../config.js';
import { MAX_TIMEOUT_S } from '../gateway/routes/rooms.js';
import type { IngestManagerOptions } from '../ingest/manager.js';
import type { MatchServiceOptions } from '../social/service.js';

/** How long a chat `ref` is remembered: the contract's dedupe window. */
const REF_TTL_MS = 300_000;

export const hubOptions = (c: Config): HubOptions => ({
  replaySize: c.replaySize,
  historyRead: c.history.size,
  moodWindowS: c.moodWindowS,
  moodLongWindowS: c.moodLongWindowS,
  moodTickMs: c.moodTickMs,
  batchTickMs: c.batchTickMs,
  controlTickMs: 250,
  // Presence entries expire in Redis unless refreshed; in one process they do not.
  presenceRefreshMs: c.redis === undefined ? 0 : Math.max(500, Math.floor(c.presenceTtlMs / 3)),
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
  roomActiveMs: c.roomLifecycle.activeS * 1000,
});

export const lifecycleOptions = (c: Config): RoomLifecycleOptions => ({
  activeMs: c.roomLifecycle.activeS * 1000,
  countdownMs: c.roomLifecycle.countdownS * 1000,
  decisionMs: c.roomLifecycle.decisionS * 1000,
  tickMs: c.roomLifecycle.sweepMs,
});

export const historyOptions = (c: Config): HistoryOptions => ({
  size: c.history.size,
  ttlMs: c.history.ttlS * 1000,
  refTtlMs: REF_TTL_MS,
});

export const matchOptions = (c: Config): MatchServiceOptions => ({
  tickMs: c.match.tickMs,
  relaxMs: c.match.relaxS * 1000,
  graceMs: c.match.graceMs,
});
