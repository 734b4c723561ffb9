// Profiles of platform users (Twitch, TikTok) in four tiers (src/profiles/service.ts), and the avatars that
// ChatPulse draws itself for the last two: an identicon, or the initials of the display name. The SVGs are
// served with nosniff and a CSP that forbids everything an image does not need.
import { Type } from '@sinclair/typebox';
import { ProfileReply, ProfileRevalidateReply, ImageReply, SourceKindSchema } from '../../contract/index.js';
import { badRequest } from '../../errors.js';
import { identiconSvg, type Profile, type ProfileService } from '../../profiles/index.js';
import type { SourceKind } from '../../vocabulary.js';
import { route, type Route } from '../router.js';
import { initialsSvg } from './files.js';

const USERNAME = /^@?[A-Za-z0-9._]{1,32}$/;
const SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

const RevalidateBody = Type.Object(
  {
    source: SourceKindSchema,
    usernames: Type.Array(Type.String({ minLength: 1, maxLength: 33 }), { minItems: 1, maxItems: 100, uniqueItems: true }),
  },
  { additionalProperties: false },
);

function sourceOf(raw: string | undefined): SourceKind {
  if (raw === 'twitch' || raw === 'tiktok') return raw;
  throw badRequest('source is `twitch` or `tiktok`', 'validation_failed');
}

function usernameOf(raw: string | undefined): string {
  if (raw === undefined || !USERNAME.test(raw)) throw badRequest('a username is 1 to 32 letters, digits, "." or "_"', 'validation_failed');
  return raw;
}

export const profileView = (p: Profile) => ({
  source: p.source,
  username: p.username,
  display_name: p.displayName,
  avatar_url: p.avatarUrl,
  tier: p.tier,
  fetched_at: new Date(p.fetchedAt).toISOString(),
});

export function profileRoutes(profiles: Pick<ProfileService, 'get' | 'revalidate'>): Route[] {
  return [
    route({
      method: 'get',
      path: '/api/v1/profiles/:source/:username',
      auth: 'user',
      rateLimit: 'api',
      tag: 'profiles',
      summary: "A Twitch or TikTok user's display name and avatar, from the best tier known",
      description:
        '`live`: seen in an ingested event; `fetched`: asked of the platform (when configured); `generated`: an identicon; ' +
        '`initials`: the initials of a known display name. A stale entry is served and refreshed in the background.',
      response: ProfileReply,
      responses: { 400: 'Not `twitch` or `tiktok`, or not a username' },
      handler: async ({ params }) => ({ body: profileView(await profiles.get(sourceOf(params.source), usernameOf(params.username))) }),
    }),
    route({
      method: 'get',
      path: '/api/v1/profiles/:source/:username/avatar',
      auth: 'public',
      tag: 'profiles',
      summary: 'The avatar ChatPulse draws for a profile: the initials of its display name when known, else an identicon',
      produces: 'image/svg+xml',
      response: ImageReply,
      responses: { 400: 'Not `twitch` or `tiktok`, or not a username' },
      handler: async ({ params }) => {
        const source = sourceOf(params.source);
        const p = await profiles.get(source, usernameOf(params.username));
        const svg = p.tier === 'generated' ? identiconSvg(source, p.username) : initialsSvg(`${source}:${p.username}`, p.displayName);
        return {
          raw: { contentType: 'image/svg+xml', body: svg },
          headers: {
            'X-Content-Type-Options': 'nosniff',
            'Content-Disposition': 'inline; filename="avatar.svg"',
            'Content-Security-Policy': SVG_CSP,
            'Cache-Control': 'public, max-age=300',
          },
        };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/profiles/revalidate',
      auth: 'user',
      rateLimit: 'api',
      tag: 'profiles',
      summary: 'Refresh these profiles in the background (202: queued, not done)',
      body: RevalidateBody,
      response: ProfileRevalidateReply,
      responses: { 202: 'Queued', 400: 'Not a username' },
      handler: async ({ body }) => {
        for (const u of body.usernames) usernameOf(u);
        profiles.revalidate(body.source, body.usernames);
        return { status: 202, body: { accepted: body.usernames.length } };
      },
    }),
  ];
}
