// Reports: a channel's sentiment over a time range, computed once at creation and saved. Owner or admin only.
import { Type } from '@sinclair/typebox';
import { ulid } from '../../ids.js';
import type { Principal } from '../../auth/index.js';
import { ReportListReply, ReportReply } from '../../contract/index.js';
import { parseChannel } from '../../channels/index.js';
import { AppError, badRequest, notFound } from '../../errors.js';
import { KeyedSerializer } from '../../limits/index.js';
import type { HistoryService } from '../../store/history.js';
import type { ReportRecord, ReportStore } from '../../store/stores.js';
import { boundedTime, cursorParam, intParam, MAX_TIME_MS, QueryCursor, QueryInt } from '../query.js';
import { route, type Route } from '../router.js';

const Time = Type.Union([Type.String({ minLength: 1, maxLength: 40 }), Type.Integer({ minimum: 0, maximum: MAX_TIME_MS })]);
const CreateReportBody = Type.Object(
  {
    channel: Type.String({ minLength: 3, maxLength: 72 }),
    from: Time,
    to: Time,
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  },
  { additionalProperties: false },
);

const MAX_RANGE_MS = 31 * 24 * 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

// A stored time no Date can show (a record from an older version, or written by hand) reads as null: one
// bad report must not fail its owner's every listing.
const storedIso = (ms: unknown): string | null =>
  typeof ms === 'number' && Math.abs(ms) <= MAX_TIME_MS ? new Date(ms).toISOString() : null;

export const reportView = (r: ReportRecord) => ({
  id: r.id,
  owner_id: r.ownerId,
  channel: r.channel,
  title: r.title,
  from: storedIso(r.from),
  to: storedIso(r.to),
  created_at: storedIso(r.createdAt),
  summary: r.summary,
});

export interface ReportQuota {
  /** Reports one user keeps at once (admins included: a report is stored data, not moderation). */
  maxPerUser: number;
  /** Reports older than this are deleted (lazily: on the next create anywhere or read of its owner's list). */
  retentionDays: number;
}

export function reportRoutes(reports: ReportStore, history: HistoryService, quota: ReportQuota): Route[] {
  const who = (p: Principal | null) => p as Principal; // non-null on authenticated routes
  const cutoff = () => Date.now() - quota.retentionDays * 86_400_000;
  const creates = new KeyedSerializer();
  const owned = async (principal: Principal, id: string) => {
    const report = await reports.get(id);
    // Someone else's report reads as missing: ids are not a way to learn what others analyse. So does one
    // past retention that no sweep has deleted yet.
    if (!report || (report.ownerId !== principal.userId && principal.role !== 'admin') || report.createdAt < cutoff()) {
      throw notFound(`no report "${id}"`);
    }
    return report;
  };
  return [
    route({
      method: 'post',
      path: '/api/v1/reports',
      auth: 'user',
      rateLimit: 'api',
      tag: 'reports',
      summary: 'Analyse a channel over [from, to) and save the result (at most 31 days)',
      body: CreateReportBody,
      response: ReportReply,
      responses: { 201: 'The report', 409: 'You hold MAX_REPORTS_PER_USER reports already (`quota_exceeded`)' },
      handler: async ({ body, principal }) => {
        const channel = parseChannel(body.channel).name;
        const from = boundedTime(body.from, 'from');
        const to = boundedTime(body.to, 'to');
        if (!(to > from)) throw badRequest('`to` must be after `from`', 'validation_failed');
        if (to - from > MAX_RANGE_MS) throw badRequest('a report covers at most 31 days', 'validation_failed');
        const owner = who(principal).userId;
        // Counted, then created, one create per user at a time in this process (see KeyedSerializer): a
        // summary can take seconds, and a burst of creates would otherwise all pass the count together.
        return creates.run(owner, async () => {
          // Retention is swept here, for every owner: creating is rare (each costs a summary) and indexed.
          await reports.deleteCreatedBefore(cutoff());
          if ((await reports.countByOwner(owner)) >= quota.maxPerUser) {
            throw new AppError(
              409,
              'quota_exceeded',
              `you may keep at most ${quota.maxPerUser} reports (MAX_REPORTS_PER_USER): delete some first`,
            );
          }
          const report: ReportRecord = {
            id: ulid(),
            ownerId: owner,
            channel,
            from,
            to,
            createdAt: Date.now(),
            title: body.title ?? `${channel} ${iso(from)} – ${iso(to)}`,
            summary: await history.summarize(channel, from, to),
          };
          await reports.create(report);
          return { status: 201, body: reportView(report) };
        });
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/reports',
      auth: 'user',
      tag: 'reports',
      summary: 'Your reports, newest first (`limit`, `before`)',
      query: Type.Object({ limit: QueryInt('1-100, default 50'), before: QueryCursor("the previous page's `next`") }),
      response: ReportListReply,
      handler: async ({ principal, query }) => {
        const limit = intParam(query, 'limit', 50, 1, 100);
        const before = cursorParam(query, 'before');
        await reports.deleteCreatedBefore(cutoff(), who(principal).userId);
        const page = await reports.listByOwner(who(principal).userId, limit, before);
        const items = page.map(reportView);
        return { body: page.length === limit ? { items, next: page[page.length - 1]?.id } : { items } };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/reports/:id',
      auth: 'user',
      tag: 'reports',
      summary: 'One report (owner or admin)',
      response: ReportReply,
      handler: async ({ params, principal }) => ({ body: reportView(await owned(who(principal), params.id as string)) }),
    }),
    route({
      method: 'del',
      path: '/api/v1/reports/:id',
      auth: 'user',
      rateLimit: 'api',
      tag: 'reports',
      summary: 'Delete a report (owner or admin)',
      responses: { 204: 'Deleted' },
      handler: async ({ params, principal }) => {
        const report = await owned(who(principal), params.id as string);
        if (!(await reports.delete(report.id))) throw notFound(`no report "${report.id}"`);
        return { status: 204 };
      },
    }),
  ];
}
