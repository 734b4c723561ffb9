// The ingest connectors, configured from INGEST_* settings (credentials only where given).
import type { Config } from '../config.js';
import type { IngestConnector } from '../ingest/source.js';
import { TikTokConnector } from '../ingest/tiktok.js';
import { TwitchConnector } from '../ingest/twitch.js';
import type { Logger } from '../observability/log.js';
import type { SourceKind } from '../vocabulary.js';

/** Told of every platform user an ingested event carries: the profile cache's tier 1. */
export type OnUser = (source: SourceKind, login: string, displayName: string, avatarUrl: string | undefined) => void;

export function ingestConnectors(ic: Config['ingest'], log: Logger, onUser?: OnUser): Map<SourceKind, IngestConnector> {
  const seen = (source: SourceKind) => (onUser ? { onUser: onUser.bind(null, source) } : {});
  const twitchLogin =
    ic.twitchUsername === undefined || ic.twitchOauthToken === undefined
      ? {}
      : { username: ic.twitchUsername, oauthToken: ic.twitchOauthToken };
  return new Map<SourceKind, IngestConnector>([
    ['twitch', new TwitchConnector({ ircUrl: ic.twitchIrcUrl, log, ...twitchLogin, ...seen('twitch') })],
    [
      'tiktok',
      new TikTokConnector({
        log,
        ...seen('tiktok'),
        ...(ic.tiktokSignApiKey === undefined ? {} : { signApiKey: ic.tiktokSignApiKey }),
        ...(ic.tiktokSignServerUrl === undefined ? {} : { signServerUrl: ic.tiktokSignServerUrl }),
        ...(ic.tiktokSessionId === undefined ? {} : { sessionId: ic.tiktokSessionId, ttTargetIdc: ic.tiktokTtTargetIdc }),
      }),
    ],
  ]);
}
