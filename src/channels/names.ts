// Channel names: `room:<id>` (native chat), `twitch:<login>` and `tiktok:<user>` (ingested, read-only for
// clients). Names are checked here once, at the edge, so everything behind can trust them.
import { MAX_CHANNEL_LENGTH, type SourceKind } from '../contract/index.js';
import { AppError } from '../errors.js';

export type ChannelKind = 'room' | SourceKind;

export interface ChannelName {
  kind: ChannelKind;
  /** The part after the colon. */
  id: string;
  /** `<kind>:<id>`, the canonical spelling. */
  name: string;
}

export const ROOM_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
const ROOM_ID = new RegExp(ROOM_ID_PATTERN);
// The ingested kinds in their canonical (lowercase) spelling, the one ingestion publishes under and the
// connectors normalize to. Twitch logins are 4-25 of [a-z0-9_] (3 accepted: old accounts exist); TikTok
// unique ids are 2-24 of letters, digits, "_" and ".", case-insensitive.
export const TWITCH_LOGIN = /^[a-z0-9_]{3,25}$/;
export const TIKTOK_USER = /^[a-z0-9._]{2,24}$/;
const IDS: Record<ChannelKind, RegExp> = { room: ROOM_ID, twitch: TWITCH_LOGIN, tiktok: TIKTOK_USER };

export const invalidChannel = (message: string) => new AppError(400, 'invalid_channel', message);

export function parseChannel(raw: string): ChannelName {
  if (raw.length > MAX_CHANNEL_LENGTH) throw invalidChannel(`channel names are at most ${MAX_CHANNEL_LENGTH} characters`);
  const colon = raw.indexOf(':');
  const kind = raw.slice(0, colon);
  const id = raw.slice(colon + 1);
  if (colon < 0 || !Object.hasOwn(IDS, kind)) throw invalidChannel('channel must be room:<id>, twitch:<login> or tiktok:<user>');
  if (!IDS[kind as ChannelKind].test(id)) {
    // A case slip would subscribe to a channel nothing is ever published on: say so rather than accept it.
    const hint =
      kind !== 'room' && IDS[kind as ChannelKind].test(id.toLowerCase())
        ? `: ${kind} names are lowercase, "${kind}:${id.toLowerCase()}"`
        : '';
    throw invalidChannel(`"${id}" is not a valid ${kind} name${hint}`);
  }
  return { kind: kind as ChannelKind, id, name: raw };
}

export const roomChannel = (roomId: string) => `room:${roomId}`;
