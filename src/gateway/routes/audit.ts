// Admin only: the audit log (security and admin events), newest first, and its manual cleanup.
import { Type } from '@sinclair/typebox';
import { AuditCleanupReply, AuditListReply } from '../../contract/index.js';
import type { AuditLog } from '../../store/audit.js';
import { cursorParam, boundedTime, intParam, QueryCursor, QueryInt } from '../query.js';
import { route, type Route } from '../router.js';

const CleanupBody = Type.Object(
  { before: Type.Union([Type.String({ minLength: 1, maxLength: 40 }), Type.Integer()], { description: 'ISO 8601 or epoch ms' }) },
  { additionalProperties: false },
);

export function auditRoutes(audit: AuditLog): Route[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/admin/audit',
      auth: 'admin',
      tag: 'admin',
      summary: "The audit log, newest first (`limit`, `before`: the previous page's `next`, `kind`)",
      query: Type.Object({
        limit: QueryInt('1-500, default 100'),
        before: QueryCursor("the previous page's `next`"),
        kind: Type.Optional(Type.String({ pattern: '^[a-z_.]{1,64}$', description: 'Only entries of this kind' })),
      }),
      response: AuditListReply,
      handler: async ({ query }) => {
        const limit = intParam(query, 'limit', 100, 1, 500);
        const before = cursorParam(query, 'before');
        const kind = query.get('kind') || undefined;
        await audit.flush(); // what this process recorded so far is visible
        const entries = await audit.store.list({
          limit,
          ...(before === undefined ? {} : { before }),
          ...(kind === undefined ? {} : { kind }),
        });
        const items = entries.map((e) => ({ ...e, ts: new Date(e.ts).toISOString() }));
        return { body: items.length === limit ? { items, next: items[items.length - 1]?.id } : { items } };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/admin/audit/cleanup',
      auth: 'admin',
      rateLimit: 'api',
      tag: 'admin',
      summary: 'Delete audit entries older than `before`',
      audit: { kind: 'audit.cleanup', target: () => null },
      body: CleanupBody,
      response: AuditCleanupReply,
      handler: async ({ body }) => {
        await audit.flush();
        return { body: { deleted: await audit.store.deleteBefore(boundedTime(body.before, 'before')) } };
      },
    }),
  ];
}
