// The ingest connectors, configured from INGEST_* settings (credentials only where given).
import type { Config } from '../config.js';
import type { IngestConnector } from '../ingest/source.js';
import { TikTokConnector } from '../ingest/tiktok.js';
import { TwitchConnector } from '../ingest/twitch.js';
import type { Logger } from '../observability/log.js';
import type { SourceKind } from '../vocabulary.js';

export function ingestConnectors(ic: Config['ingest'], log: Logger): Map<SourceKind, IngestConnector> {
  const twitchLogin =
    ic.twitchUsername === undefined || ic.twitchOauthToken === undefined
      ? {}
      : { username: ic.twitchUsername, oauthToken: ic.twitchOauthToken };
  return new Map<SourceKind, IngestConnector>([
    ['twitch', new TwitchConnector({ ircUrl: ic.twitchIrcUrl, log, ...twitchLogin })],
    [
      'tiktok',
      new TikTokConnector({
        log,
        ...(ic.tiktokSignApiKey === undefined ? {} : { signApiKey: ic.tiktokSignApiKey }),
        ...(ic.tiktokSignServerUrl === undefined ? {} : { signServerUrl: ic.tiktokSignServerUrl }),
        ...(ic.tiktokSessionId === undefined ? {} : { sessionId: ic.tiktokSessionId, ttTargetIdc: ic.tiktokTtTargetIdc }),
      }),
    ],
  ]);
}
