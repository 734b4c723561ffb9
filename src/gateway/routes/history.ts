// History (the contract's "History"): channels with their live mood, a channel's messages newest first,
// its sentiment timeline and its hype and tilt moments.
import type { ChannelHub } from '../../channels/index.js';
import { parseChannel } from '../../channels/index.js';
import { badRequest } from '../../errors.js';
import { ChannelListReply, HistoryMessageListReply, MomentListReply, TimelineReply } from '../../contract/index.js';
import { channelTotals } from '../../store/channel-totals.js';
import type { HistoryService } from '../../store/history.js';
import type { MomentStore } from '../../store/moments.js';
import type { BucketStore, MessageStore } from '../../store/stores.js';
import { Type } from '@sinclair/typebox';
import { cursorParam, intParam, QueryCursor, QueryInt, QueryTime, timeParam } from '../query.js';
import { route, type Route } from '../router.js';

const HOUR_MS = 3_600_000;

export function historyRoutes(deps: {
  hub: ChannelHub;
  messages: MessageStore;
  buckets: BucketStore;
  history: HistoryService;
  moments: Pick<MomentStore, 'list'>;
}): Route[] {
  const totals = channelTotals(deps.buckets);
  // Channel names come decoded from the router: a second decode would mangle a literal `%` (or throw on it).
  return [
    route({
      method: 'get',
      path: '/api/v1/channels',
      auth: 'user',
      rateLimit: 'api',
      tag: 'history',
      summary: 'Channels with stored traffic, most recently active first, each with its live mood where it has traffic now (`limit`)',
      query: Type.Object({ limit: QueryInt('1-200, default 50') }),
      response: ChannelListReply,
      handler: async ({ query }) => {
        const limit = intParam(query, 'limit', 50, 1, 200);
        const live = new Map(deps.hub.liveChannels().map((c) => [c.channel, c]));
        const stored = await totals.channels(limit);
        const items = stored.map((c) => {
          const now = live.get(c.channel);
          live.delete(c.channel);
          return { channel: c.channel, messages: c.messages, counts: c.counts, last_ts: c.lastTs, live: now ?? null };
        });
        // Live but not yet flushed to the store (the first seconds of a channel's traffic).
        for (const now of live.values())
          if (items.length < limit) items.unshift({ channel: now.channel, messages: 0, counts: {}, last_ts: Date.now(), live: now });
        return { body: { items } };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/channels/:channel/messages',
      auth: 'user',
      rateLimit: 'api',
      tag: 'history',
      summary: "A channel's messages, newest first (`limit` 1-200, `before`: the previous page's `next`)",
      query: Type.Object({ limit: QueryInt('1-200, default 50'), before: QueryCursor("the previous page's `next`") }),
      response: HistoryMessageListReply,
      handler: async ({ params, query }) => {
        const channel = parseChannel(params.channel as string).name;
        const limit = intParam(query, 'limit', 50, 1, 200);
        const before = cursorParam(query, 'before');
        const page = await deps.messages.list(channel, { limit, ...(before === undefined ? {} : { before }) });
        const items = page.map((m) => ({
          id: m.id,
          channel: m.channel,
          source: m.source,
          user: m.user,
          text: m.text,
          sentiment: { label: m.label, score: m.score },
          polarity: m.polarity,
          ts: m.ts,
          ...(m.sourceId === undefined ? {} : { source_id: m.sourceId }),
        }));
        return { body: page.length === limit ? { items, next: page[page.length - 1]?.id } : { items } };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/channels/:channel/timeline',
      auth: 'user',
      rateLimit: 'api',
      tag: 'history',
      summary:
        'Sentiment counts and mean score per bucket (`from`, `to`: ISO 8601 or epoch ms, default the last hour; `bucket` seconds, default 60)',
      query: Type.Object({
        from: QueryTime('start, default `to` minus one hour'),
        to: QueryTime('end, default now'),
        bucket: QueryInt('bucket seconds, 1-86400, default 60'),
      }),
      response: TimelineReply,
      handler: async ({ params, query }) => {
        const channel = parseChannel(params.channel as string).name;
        const to = timeParam(query, 'to', Date.now());
        const from = timeParam(query, 'from', to - HOUR_MS);
        const bucket = intParam(query, 'bucket', 60, 1, 86_400);
        return { body: { channel, from, to, bucket, buckets: await deps.history.timeline(channel, from, to, bucket) } };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/channels/:channel/moments',
      auth: 'user',
      rateLimit: 'api',
      tag: 'history',
      summary:
        "A channel's hype and tilt moments, newest first (`from`, `to`: ISO 8601 or epoch ms, default the last 24 hours; `limit` 1-500, default 100)",
      query: Type.Object({
        from: QueryTime('start (inclusive), default `to` minus 24 hours'),
        to: QueryTime('end (exclusive), default now'),
        limit: QueryInt('1-500, default 100'),
      }),
      response: MomentListReply,
      handler: async ({ params, query }) => {
        const channel = parseChannel(params.channel as string).name;
        const to = timeParam(query, 'to', Date.now());
        const from = timeParam(query, 'from', to - 24 * HOUR_MS);
        const limit = intParam(query, 'limit', 100, 1, 500);
        if (!(to > from)) throw badRequest('`to` must be after `from`', 'validation_failed');
        const found = await deps.moments.list(channel, { from, to, limit });
        return { body: { channel, moments: found.map((m) => ({ kind: m.kind, score: m.score, ts: m.ts, sample: m.sample })) } };
      },
    }),
  ];
}
