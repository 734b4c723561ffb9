// Configuration from the environment: the only module that reads process.env (through loadConfig's
// argument), so every setting, its default and its check live in one place.
import { availableParallelism } from 'node:os';

export interface Config {
  port: number;
  host: string;
  /** Undefined: a random per-process secret is generated (tokens die with the process). */
  jwtSecret: string | undefined;
  accessTtlS: number;
  refreshTtlS: number;
  /** MODEL_DIR, else MODEL: a local folder, a bundled model name or a Hugging Face id. */
  model: string;
  modelRevision: string;
  /** Undefined: the registry's default (~/.cache/chatpulse/models). */
  modelCacheDir: string | undefined;
  hfEndpoint: string;
  hfToken: string | undefined;
  maxLength: number;
  inferenceThreads: number;
  intraOpThreads: number;
  /** TOKENIZER: auto (native where it matches transformers.js's ids) or js. */
  tokenizer: 'auto' | 'bpe' | 'native' | 'js';
  batchMaxItems: number;
  batchMaxTokens: number;
  batchMaxWaitMs: number;
  queueMax: number;
  /** Longest expected wait for inference a call is admitted with (ADMISSION_DEADLINE_MS). */
  admissionDeadlineMs: number;
  cacheSize: number;
  maxTextLength: number;
  maxBatchTexts: number;
  /** Request bodies larger than this are refused with 413 before they are parsed. */
  maxBodyBytes: number;
  /** Requests per principal per minute on the sentiment routes. */
  apiRatePerMin: number;
  /** Register/login/refresh attempts per client IP per minute. */
  authRatePerMin: number;
  /** Failed password checks (login, or current password) per username per window; then 429 until it ends. */
  loginFailuresPerAccount: number;
  loginFailureWindowS: number;
  adminUsername: string | undefined;
  adminPassword: string | undefined;
  /** Origins allowed by CORS; empty: no CORS headers at all (same-origin only). "*" allows any. */
  corsOrigins: string[];
  /** Reverse proxies (addresses or CIDRs) whose X-Forwarded-For names the client; empty: the TCP peer is the client. */
  trustedProxies: string[];
  redisUrl: string | undefined;
  /** REDIS_CLUSTER_NODES: seed nodes (`host:port`) of a Redis Cluster; exclusive with redisUrl. */
  redisClusterNodes: string[] | undefined;
  /** Where the shared state lives, from either setting; undefined: in this process. */
  redis: RedisSetting | undefined;
  /** What a process does when Redis comes back empty (src/redis/epoch.ts): `hold` not-ready until acknowledged, or `reseed`. */
  stateLossPolicy: 'hold' | 'reseed';
  mongodbUrl: string | undefined;
  workers: number;
  drainTimeoutMs: number;
  ws: {
    maxConnections: number;
    maxSubscriptions: number;
    maxFrameBytes: number;
    idleTimeoutS: number;
    maxBackpressure: number;
    connectRatePerMin: number;
    frameRatePer10s: number;
    abuseStrikes: number;
    /** Open sockets per client address, per process (default a tenth of maxConnections). */
    maxConnectionsPerAddress: number;
    perAddressExemptLoopback: boolean;
    /** How often open authenticated sockets are re-checked against the stores (0: never). */
    revalidateS: number;
  };
  chatRatePer30s: number;
  maxRooms: number;
  /** Uploaded images (room files, avatars): where they live without MongoDB, how big, how much per user. */
  files: { dir: string; maxBytes: number; quotaBytes: number };
  /** A room created with `event_at`: how long before it chat opens and after it it closes, by default. */
  roomEvent: { openBeforeS: number; closeAfterS: number };
  replaySize: number;
  /** Messages kept per channel for replay and recovery (at least), and how long after its last message. */
  history: { size: number; ttlS: number };
  moodWindowS: number;
  moodLongWindowS: number;
  moodTickMs: number;
  batchTickMs: number;
  /** Cluster presence: how long a silent process's viewers still count (its heartbeat renews at a third of it). */
  presenceTtlMs: number;
  /** Matching: the pairing tick, the wait over which the minimum score relaxes to 0, the socket-less grace. */
  match: { tickMs: number; relaxS: number; graceMs: number };
  /** Lifecycle rooms: how long `active`, `countdown` and `decision` last; how often every process sweeps deadlines. */
  roomLifecycle: { activeS: number; countdownS: number; decisionS: number; sweepMs: number };
  ingest: {
    twitchIrcUrl: string;
    /** A bot account; both unset: anonymous read-only (`justinfan…`). */
    twitchUsername: string | undefined;
    twitchOauthToken: string | undefined;
    tiktokSignApiKey: string | undefined;
    tiktokSignServerUrl: string | undefined;
    tiktokSessionId: string | undefined;
    /** The session account's `tt-target-idc` cookie; required with tiktokSessionId (TikTok routes the session by it). */
    tiktokTtTargetIdc: string | undefined;
    /** An owner that stops renewing loses its streams after this; another process takes them over within it plus scanMs. */
    leaseTtlMs: number;
    /** How often each process looks for streams without an owner (and for deleted ones it owns). */
    scanMs: number;
    maxStreams: number;
    /** Streams one process owns at most; the rest are left to other processes. */
    maxOwned: number;
    /** Cooldown before an owned stream whose connection reported `ended` (e.g. not live yet) is tried again. */
    retryEndedMs: number;
    /** First cooldown after a connection gave up with `error`; doubles per consecutive error. */
    retryErrorMs: number;
  };
  store: {
    /** Where batches wait while MongoDB is unreachable. */
    spoolDir: string;
    spoolMaxBytes: number;
    flushMs: number;
    flushMaxDocs: number;
    /** Undefined: messages are kept forever (MongoDB) or up to memoryMessagesPerChannel (memory). */
    messageRetentionDays: number | undefined;
    memoryMessagesPerChannel: number;
    /** Without MongoDB: how long minute buckets are kept behind the newest one. */
    memoryBucketRetentionHours: number;
    /** How long one MongoDB command may wait on the server (socket and pool) before it fails. */
    mongoTimeoutMs: number;
  };
  /** Per-user quotas: by default a tenth of the matching global cap, so no one user exhausts it. */
  quotas: {
    roomsPerUser: number;
    ingestStreamsPerUser: number;
    reportsPerUser: number;
    reportRetentionDays: number;
  };
  /** How long the MongoDB audit log keeps entries (a TTL index); the memory log keeps the newest 10,000. */
  auditRetentionDays: number;
  /** E-mail (verification, password reset): without SMTP_URL the sending routes answer 503 mail_not_configured. */
  mail: { smtpUrl: string | undefined; from: string; resetTokenTtlS: number };
  /** Profiles of platform users (docs/operations.md "Profiles and the avatar tiers"). */
  profiles: {
    /** Tier 2 for Twitch: both set, Helix is asked (client-credentials app token). */
    twitchClientId: string | undefined;
    twitchClientSecret: string | undefined;
    twitchHelixUrl: string;
    twitchAuthUrl: string;
    /** Tier 2 for TikTok: its web API's base URL; unset, TikTok is not asked. */
    tiktokWebUrl: string | undefined;
    timeoutMs: number;
    breakerFailures: number;
    breakerOpenS: number;
    /** Fresh for: live, fetched, generated and initials entries. */
    ttlS: { live: number; fetched: number; generated: number; initials: number };
    cacheMax: number;
  };
  /** pino level. */
  logLevel: string;
  /** This gateway's slot on its host (0..WORKERS-1), kept by its replacement after a crash (the spool is per slot). */
  workerSlot: number;
}

/** A single Redis (REDIS_URL) or a Redis Cluster's seed nodes (REDIS_CLUSTER_NODES, with REDIS_USERNAME/REDIS_PASSWORD). */
export type RedisSetting = { url: string } | { clusterNodes: string[]; username?: string; password?: string };

/** The model bundled in models/ and served when neither MODEL_DIR nor MODEL is set. */
export const DEFAULT_MODEL = 'chatpulse-mini';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

function int(env: Env, key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${key} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function bool(env: Env, key: string, fallback: boolean): boolean {
  const raw = env[key]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${key} must be true or false, got "${env[key] ?? ''}"`);
}

function oneOf<T extends string>(env: Env, key: string, allowed: readonly T[], fallback: T): T {
  const raw = str(env, key);
  if (raw === undefined) return fallback;
  const found = allowed.find((a) => a === raw.toLowerCase());
  if (found === undefined) throw new ConfigError(`${key} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return found;
}

function str(env: Env, key: string): string | undefined {
  const raw = env[key]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}

/** LOG_LEVEL alone: the logger exists before the rest is parsed, so a bad setting is reported through it. */
export function logLevelFrom(env: Env): string {
  return str(env, 'LOG_LEVEL') ?? 'info';
}

function stateLossPolicy(env: Env): 'hold' | 'reseed' {
  const raw = str(env, 'STATE_LOSS_POLICY') ?? 'hold';
  if (raw === 'hold' || raw === 'reseed') return raw;
  throw new ConfigError(`STATE_LOSS_POLICY must be hold or reseed, got "${raw}"`);
}

/** Seed nodes are enough to find the rest (a few per shard); this bounds what a typo can ask for. */
const MAX_CLUSTER_SEEDS = 64;
// A host name or IPv4 address, or an IPv6 address in brackets; then a port.
const NODE_ADDRESS = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

function redisClusterNodes(env: Env): string[] | undefined {
  const raw = str(env, 'REDIS_CLUSTER_NODES');
  if (raw === undefined) return undefined;
  const nodes = raw.split(',').map((n) => n.trim());
  for (const node of nodes) {
    const port = Number(NODE_ADDRESS.exec(node)?.[1]);
    if (!(port >= 1 && port <= 65535))
      throw new ConfigError(
        `REDIS_CLUSTER_NODES must be a comma-separated list of host:port (e.g. redis-0:6379,redis-1:6379), got "${node}"`,
      );
  }
  if (nodes.length > MAX_CLUSTER_SEEDS)
    throw new ConfigError(
      `REDIS_CLUSTER_NODES lists at most ${MAX_CLUSTER_SEEDS} seed nodes (a few per shard are enough), got ${nodes.length}`,
    );
  if (new Set(nodes).size !== nodes.length) throw new ConfigError('REDIS_CLUSTER_NODES lists a node twice');
  return nodes;
}

function redisSetting(env: Env): RedisSetting | undefined {
  const url = str(env, 'REDIS_URL');
  const clusterNodes = redisClusterNodes(env);
  const username = str(env, 'REDIS_USERNAME');
  const password = env.REDIS_PASSWORD === '' ? undefined : env.REDIS_PASSWORD;
  if (url !== undefined && clusterNodes !== undefined) {
    throw new ConfigError(
      'REDIS_URL and REDIS_CLUSTER_NODES are mutually exclusive: REDIS_URL for one Redis, REDIS_CLUSTER_NODES for a Redis Cluster',
    );
  }
  // REDIS_USERNAME/REDIS_PASSWORD are the cluster nodes' credentials only: a REDIS_URL carries its own (and
  // a REDIS_PASSWORD meant for something else beside it must not change what it says).
  if (url !== undefined) return { url };
  if (clusterNodes === undefined) return undefined;
  return { clusterNodes, ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }) };
}

export function loadConfig(env: Env): Config {
  const maxTextLength = int(env, 'MAX_TEXT_LENGTH', 2000, 1, 100_000);
  const maxBatchTexts = int(env, 'MAX_BATCH_TEXTS', 256, 1, 10_000);
  const maxStreams = int(env, 'INGEST_MAX_STREAMS', 100, 1, 100_000);
  const maxRooms = int(env, 'MAX_ROOMS', 10_000, 1);
  const jwtSecret = str(env, 'JWT_SECRET');
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) {
    throw new ConfigError('JWT_SECRET must be at least 32 bytes (e.g. `openssl rand -base64 48`)');
  }
  const adminUsername = str(env, 'ADMIN_USERNAME');
  const adminPassword = env.ADMIN_PASSWORD;
  if ((adminUsername === undefined) !== (adminPassword === undefined || adminPassword === '')) {
    throw new ConfigError('ADMIN_USERNAME and ADMIN_PASSWORD must be set together');
  }
  const cores = availableParallelism();
  const workers = int(env, 'WORKERS', 1, 1, 256);
  const wsMaxConnections = int(env, 'WS_MAX_CONNECTIONS', 50_000, 1);
  const config: Config = {
    port: int(env, 'PORT', 8080, 0, 65535),
    host: str(env, 'HOST') ?? '0.0.0.0',
    jwtSecret,
    accessTtlS: int(env, 'ACCESS_TOKEN_TTL_S', 900, 10),
    refreshTtlS: int(env, 'REFRESH_TOKEN_TTL_S', 7 * 24 * 3600, 60),
    model: str(env, 'MODEL_DIR') ?? str(env, 'MODEL') ?? DEFAULT_MODEL,
    modelRevision: str(env, 'MODEL_REVISION') ?? 'main',
    modelCacheDir: str(env, 'MODEL_CACHE_DIR'),
    hfEndpoint: str(env, 'HF_ENDPOINT') ?? 'https://huggingface.co',
    hfToken: str(env, 'HF_TOKEN'),
    maxLength: int(env, 'MAX_LENGTH', 128, 8, 4096),
    // Processes x threads = cores: more inference threads than cores only makes them take turns.
    inferenceThreads: int(env, 'INFERENCE_THREADS', Math.max(1, Math.floor(cores / workers)), 1, 256),
    intraOpThreads: int(env, 'ORT_INTRA_OP_THREADS', 1, 1, 64),
    tokenizer: oneOf(env, 'TOKENIZER', ['auto', 'bpe', 'native', 'js'] as const, 'auto'),
    batchMaxItems: int(env, 'BATCH_MAX_ITEMS', 64, 1, 4096),
    batchMaxTokens: int(env, 'BATCH_MAX_TOKENS', 8192, 16),
    batchMaxWaitMs: int(env, 'BATCH_MAX_WAIT_MS', 2, 0, 1000),
    queueMax: int(env, 'QUEUE_MAX', 8192, 1),
    // Under a client's usual 10 s timeout with room for the estimate to be off by a factor of several.
    admissionDeadlineMs: int(env, 'ADMISSION_DEADLINE_MS', 2000, 10, 600_000),
    cacheSize: int(env, 'CACHE_SIZE', 50_000, 0),
    maxTextLength,
    maxBatchTexts,
    // Worst case: every character a 4-byte UTF-8 sequence escaped in JSON, plus framing.
    maxBodyBytes: int(env, 'MAX_BODY_BYTES', maxBatchTexts * maxTextLength * 4 + 64 * 1024, 1024),
    apiRatePerMin: int(env, 'API_RATE_PER_MIN', 6000, 1),
    authRatePerMin: int(env, 'AUTH_RATE_PER_MIN', 30, 1),
    // Per account, beside the per-address limit: a guesser spread over many addresses still gets this many.
    loginFailuresPerAccount: int(env, 'LOGIN_FAILURES_PER_ACCOUNT', 10, 1, 10_000),
    loginFailureWindowS: int(env, 'LOGIN_FAILURE_WINDOW_S', 900, 1, 86_400),
    adminUsername,
    adminPassword: adminUsername === undefined ? undefined : adminPassword,
    corsOrigins: (str(env, 'CORS_ORIGINS') ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== ''),
    trustedProxies: (str(env, 'TRUSTED_PROXIES') ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== ''),
    redisUrl: str(env, 'REDIS_URL'),
    redisClusterNodes: redisClusterNodes(env),
    redis: redisSetting(env),
    stateLossPolicy: stateLossPolicy(env),
    mongodbUrl: str(env, 'MONGODB_URL'),
    workers,
    drainTimeoutMs: int(env, 'DRAIN_TIMEOUT_MS', 10_000, 0),
    ws: {
      maxConnections: wsMaxConnections,
      maxSubscriptions: int(env, 'WS_MAX_SUBSCRIPTIONS', 50, 1, 10_000),
      maxFrameBytes: int(env, 'WS_MAX_FRAME_BYTES', 8192, 256, 16 * 1024 * 1024),
      // uWS wants 0 (off) or at least 8 seconds.
      idleTimeoutS: int(env, 'WS_IDLE_TIMEOUT_S', 120, 8, 960),
      maxBackpressure: int(env, 'WS_MAX_BACKPRESSURE', 1024 * 1024, 1024),
      connectRatePerMin: int(env, 'WS_CONNECT_RATE_PER_MIN', 60, 1),
      frameRatePer10s: int(env, 'WS_FRAME_RATE_PER_10S', 100, 1),
      abuseStrikes: int(env, 'WS_ABUSE_STRIKES', 20, 1),
      maxConnectionsPerAddress: int(env, 'WS_MAX_CONNECTIONS_PER_ADDRESS', Math.max(1, Math.floor(wsMaxConnections / 10)), 1),
      perAddressExemptLoopback: bool(env, 'WS_PER_ADDRESS_EXEMPT_LOOPBACK', true),
      revalidateS: int(env, 'WS_REVALIDATE_S', 30, 0, 3600),
    },
    chatRatePer30s: int(env, 'CHAT_RATE_PER_30S', 20, 1),
    maxRooms,
    files: {
      dir: str(env, 'FILES_DIR') ?? 'var/files',
      maxBytes: int(env, 'MAX_FILE_BYTES', 5 * 1024 * 1024, 1024, 100 * 1024 * 1024),
      quotaBytes: int(env, 'FILE_QUOTA_BYTES', 50 * 1024 * 1024, 1024),
    },
    roomEvent: {
      openBeforeS: int(env, 'ROOM_OPEN_BEFORE_S', 3600, 0, 30 * 86_400),
      closeAfterS: int(env, 'ROOM_CLOSE_AFTER_S', 3600, 1, 30 * 86_400),
    },
    replaySize: int(env, 'REPLAY_SIZE', 50, 0, 1000),
    // Bounded so one recovery is one read of at most 10,000 messages (a few MB).
    history: { size: int(env, 'HISTORY_SIZE', 1000, 10, 10_000), ttlS: int(env, 'HISTORY_TTL_S', 3600, 10, 7 * 86_400) },
    moodWindowS: int(env, 'MOOD_WINDOW_S', 10, 1, 3600),
    moodLongWindowS: int(env, 'MOOD_LONG_WINDOW_S', 60, 1, 3600),
    moodTickMs: int(env, 'MOOD_TICK_MS', 1000, 50, 60_000),
    // The contract allows at most 25 ms between a message and its batched delivery.
    batchTickMs: int(env, 'WS_BATCH_TICK_MS', 20, 1, 25),
    presenceTtlMs: int(env, 'PRESENCE_TTL_MS', 6000, 1000, 600_000),
    match: {
      tickMs: int(env, 'MATCH_TICK_MS', 250, 10, 60_000),
      relaxS: int(env, 'MATCH_RELAX_S', 30, 0, 3600),
      graceMs: int(env, 'MATCH_GRACE_MS', 10_000, 1000, 600_000),
    },
    roomLifecycle: {
      activeS: int(env, 'ROOM_ACTIVE_S', 300, 1, 7 * 86_400),
      countdownS: int(env, 'ROOM_COUNTDOWN_S', 300, 1, 86_400),
      decisionS: int(env, 'ROOM_DECISION_S', 30, 1, 3600),
      // A state ends at most this late after its deadline (the tests run whole lifecycles in seconds).
      sweepMs: int(env, 'ROOM_SWEEP_MS', 500, 50, 5000),
    },
    ingest: {
      twitchIrcUrl: str(env, 'TWITCH_IRC_URL') ?? 'wss://irc-ws.chat.twitch.tv:443',
      twitchUsername: str(env, 'TWITCH_USERNAME'),
      twitchOauthToken: str(env, 'TWITCH_OAUTH_TOKEN'),
      tiktokSignApiKey: str(env, 'TIKTOK_SIGN_API_KEY'),
      tiktokSignServerUrl: str(env, 'TIKTOK_SIGN_SERVER_URL'),
      tiktokSessionId: str(env, 'TIKTOK_SESSION_ID'),
      tiktokTtTargetIdc: str(env, 'TIKTOK_TT_TARGET_IDC'),
      leaseTtlMs: int(env, 'INGEST_LEASE_TTL_MS', 10_000, 1000, 600_000),
      scanMs: int(env, 'INGEST_SCAN_MS', 1000, 100, 60_000),
      maxStreams,
      // Unset: no per-process cap beyond the cluster-wide one (the first process to scan may take them all).
      maxOwned: int(env, 'INGEST_MAX_OWNED', maxStreams, 1, 100_000),
      retryEndedMs: int(env, 'INGEST_RETRY_ENDED_MS', 60_000, 100, 86_400_000),
      retryErrorMs: int(env, 'INGEST_RETRY_ERROR_MS', 30_000, 100, 86_400_000),
    },
    store: {
      spoolDir: str(env, 'SPOOL_DIR') ?? 'var/spool',
      spoolMaxBytes: int(env, 'SPOOL_MAX_BYTES', 256 * 1024 * 1024, 1024),
      flushMs: int(env, 'STORE_FLUSH_MS', 250, 1, 60_000),
      flushMaxDocs: int(env, 'STORE_FLUSH_MAX_DOCS', 500, 1, 100_000),
      messageRetentionDays:
        str(env, 'MESSAGE_RETENTION_DAYS') === undefined ? undefined : int(env, 'MESSAGE_RETENTION_DAYS', 30, 1, 36_500),
      memoryMessagesPerChannel: int(env, 'MEMORY_MESSAGES_PER_CHANNEL', 10_000, 1, 10_000_000),
      memoryBucketRetentionHours: int(env, 'MEMORY_BUCKET_RETENTION_HOURS', 48, 1, 24 * 3650),
      mongoTimeoutMs: int(env, 'MONGODB_TIMEOUT_MS', 10_000, 100, 600_000),
    },
    quotas: {
      roomsPerUser: int(env, 'MAX_ROOMS_PER_USER', Math.max(1, Math.floor(maxRooms / 10)), 1),
      ingestStreamsPerUser: int(env, 'INGEST_MAX_STREAMS_PER_USER', Math.max(1, Math.floor(maxStreams / 10)), 1, 100_000),
      reportsPerUser: int(env, 'MAX_REPORTS_PER_USER', 100, 1, 100_000),
      reportRetentionDays: int(env, 'REPORT_RETENTION_DAYS', 90, 1, 36_500),
    },
    auditRetentionDays: int(env, 'AUDIT_RETENTION_DAYS', 90, 1, 36_500),
    mail: {
      smtpUrl: str(env, 'SMTP_URL'),
      from: str(env, 'MAIL_FROM') ?? 'ChatPulse <no-reply@localhost>',
      resetTokenTtlS: int(env, 'RESET_TOKEN_TTL_S', 1800, 1, 7 * 86_400),
    },
    profiles: {
      twitchClientId: str(env, 'TWITCH_CLIENT_ID'),
      twitchClientSecret: str(env, 'TWITCH_CLIENT_SECRET'),
      twitchHelixUrl: (str(env, 'TWITCH_HELIX_URL') ?? 'https://api.twitch.tv/helix').replace(/\/+$/, ''),
      twitchAuthUrl: (str(env, 'TWITCH_AUTH_URL') ?? 'https://id.twitch.tv/oauth2').replace(/\/+$/, ''),
      tiktokWebUrl: str(env, 'TIKTOK_WEB_URL')?.replace(/\/+$/, ''),
      timeoutMs: int(env, 'PROFILE_FETCH_TIMEOUT_MS', 3000, 50, 60_000),
      breakerFailures: int(env, 'PROFILE_BREAKER_FAILURES', 5, 1, 1000),
      breakerOpenS: int(env, 'PROFILE_BREAKER_OPEN_S', 30, 1, 3600),
      ttlS: {
        live: int(env, 'PROFILE_TTL_LIVE_S', 3600, 1, 30 * 86_400),
        fetched: int(env, 'PROFILE_TTL_FETCHED_S', 6 * 3600, 1, 30 * 86_400),
        generated: int(env, 'PROFILE_TTL_GENERATED_S', 600, 1, 30 * 86_400),
        initials: int(env, 'PROFILE_TTL_INITIALS_S', 600, 1, 30 * 86_400),
      },
      cacheMax: int(env, 'PROFILE_CACHE_MAX', 50_000, 100, 10_000_000),
    },
    logLevel: logLevelFrom(env),
    workerSlot: int(env, 'CHATPULSE_WORKER_SLOT', 0, 0, 255),
  };
  if ((config.ingest.twitchUsername === undefined) !== (config.ingest.twitchOauthToken === undefined)) {
    throw new ConfigError('TWITCH_USERNAME and TWITCH_OAUTH_TOKEN must be set together (both unset: anonymous read-only)');
  }
  if ((config.ingest.tiktokSessionId === undefined) !== (config.ingest.tiktokTtTargetIdc === undefined)) {
    // tiktok-live-connector refuses a session cookie without the account's data-centre cookie.
    throw new ConfigError(
      "TIKTOK_SESSION_ID and TIKTOK_TT_TARGET_IDC (the account's tt-target-idc cookie, e.g. useast1a) must be set together",
    );
  }
  if ((config.profiles.twitchClientId === undefined) !== (config.profiles.twitchClientSecret === undefined)) {
    throw new ConfigError('TWITCH_CLIENT_ID and TWITCH_CLIENT_SECRET must be set together (both unset: Twitch profiles are not fetched)');
  }
  if (config.ingest.scanMs * 2 > config.ingest.leaseTtlMs) {
    throw new ConfigError('INGEST_SCAN_MS must be at most half of INGEST_LEASE_TTL_MS: owners renew on each scan');
  }
  if (config.moodLongWindowS < config.moodWindowS) {
    throw new ConfigError('MOOD_LONG_WINDOW_S must be at least MOOD_WINDOW_S');
  }
  if (config.workers > 1 && config.redis === undefined) {
    throw new ConfigError('WORKERS > 1 needs REDIS_URL (or REDIS_CLUSTER_NODES): processes share rooms, presence and limits through Redis');
  }
  if (config.redis !== undefined && config.jwtSecret === undefined) {
    const setting = config.redisUrl !== undefined ? 'REDIS_URL' : 'REDIS_CLUSTER_NODES';
    throw new ConfigError(`${setting} needs JWT_SECRET: every process of a cluster must sign and verify tokens with the same secret`);
  }
  return config;
}
