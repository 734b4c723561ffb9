// The AsyncAPI 3.0 document of the WebSocket protocol, generated from the contract's frame schemas: one
// channel (`/ws`), one message per frame type, and one operation per message, described from the server's
// side (it receives client frames and sends server frames). Served at `/asyncapi.json`.
import { clientFrameSchemas, ServerFrameSchemas } from '../contract/index.js';
import { plainSchema } from './openapi.js';

export interface AsyncApiOptions {
  version: string;
  /** The server's MAX_TEXT_LENGTH: the `chat` frame's bound. */
  maxTextLength: number;
}

type Json = ReturnType<typeof plainSchema>;
type JsonObject = { [key: string]: Json };

const CHANNEL = 'live';
const CHANNEL_REF = `#/channels/${CHANNEL}`;

/** Client frames the server answers with one frame of its own (errors aside): AsyncAPI's `reply`. */
const REPLIES: Readonly<Record<string, string>> = {
  subscribe: 'subscribed',
  unsubscribe: 'unsubscribed',
  ping: 'pong',
  auth: 'authed',
  chat: 'ack',
};

/** Shared parts named once in `components.schemas` and referenced wherever a frame holds them. */
const SHARED = { MessageFrame: ServerFrameSchemas.message } as const;

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const DESCRIPTION = [
  "ChatPulse's real-time protocol: `GET /ws` upgrades to a WebSocket; every frame, both ways, is one JSON object in a text frame, told apart by `type`.",
  'Credentials go in the query string (`?token=<access token>` or `?api_key=<key>`) or the `Authorization` / `X-API-Key` headers; without them a socket may subscribe but not chat or like.',
  'Channels are `room:<id>` (native chat), `twitch:<login>` and `tiktok:<user>` (ingested, read-only).',
  'A refused frame is answered with an `error` frame and the socket stays open. Closes: 1001 draining, 1008 repeated rate-limit refusals, 1009 a frame over the size limit, 4001 credentials revoked or expired.',
  'Generated from the TypeBox schemas in `src/contract/` that the server validates and builds its frames with.',
].join('\n\n');

/** The AsyncAPI 3.0 document for the protocol as this server speaks it. */
export function asyncApiDocument(options: AsyncApiOptions): JsonObject {
  const client = clientFrameSchemas(options.maxTextLength);
  const schemas: JsonObject = {};
  const sharedRefs = new Map<string, Json>();
  for (const [name, schema] of Object.entries(SHARED)) {
    schemas[name] = plainSchema(schema);
    sharedRefs.set(JSON.stringify(schemas[name]), { $ref: `#/components/schemas/${name}` });
  }
  // A shared part inside a frame becomes a $ref (TypeBox reuses the same object, so its JSON is identical).
  const withRefs = (node: Json, root: boolean): Json => {
    if (Array.isArray(node)) return node.map((n) => withRefs(n, false));
    if (node === null || typeof node !== 'object') return node;
    const ref = root ? undefined : sharedRefs.get(JSON.stringify(node));
    if (ref !== undefined) return ref;
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, withRefs(v, false)]));
  };

  const messages: JsonObject = {};
  const channelMessages: JsonObject = {};
  const operations: JsonObject = {};
  const add = (type: string, schema: unknown, action: 'send' | 'receive') => {
    if (type in messages) throw new Error(`frame type "${type}" is declared both ways`);
    const plain = plainSchema(schema) as JsonObject;
    const schemaName = `${capital(type)}Frame`;
    schemas[schemaName] ??= withRefs(plain, true);
    messages[type] = {
      name: type,
      title: `${type} (${action === 'receive' ? 'client → server' : 'server → client'})`,
      ...(typeof plain.description === 'string' ? { summary: plain.description } : {}),
      contentType: 'application/json',
      payload: { $ref: `#/components/schemas/${schemaName}` },
    };
    channelMessages[type] = { $ref: `#/components/messages/${type}` };
    const reply = REPLIES[type];
    operations[`${action}${capital(type)}`] = {
      action,
      channel: { $ref: CHANNEL_REF },
      ...(typeof plain.description === 'string' ? { summary: plain.description } : {}),
      messages: [{ $ref: `${CHANNEL_REF}/messages/${type}` }],
      ...(reply === undefined
        ? {}
        : { reply: { channel: { $ref: CHANNEL_REF }, messages: [{ $ref: `${CHANNEL_REF}/messages/${reply}` }] } }),
    };
  };
  for (const [type, schema] of Object.entries(client)) add(type, schema, 'receive');
  for (const [type, schema] of Object.entries(ServerFrameSchemas)) add(type, schema, 'send');

  return {
    asyncapi: '3.0.0',
    info: { title: 'ChatPulse WebSocket protocol', version: options.version, description: DESCRIPTION },
    defaultContentType: 'application/json',
    channels: {
      [CHANNEL]: {
        address: '/ws',
        title: 'The live connection',
        description:
          'One WebSocket per client; it subscribes to any number of channels (up to WS_MAX_SUBSCRIPTIONS) and every frame names its channel.',
        messages: channelMessages,
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                token: { type: 'string', description: 'An access token (`POST /api/v1/auth/login`)' },
                api_key: { type: 'string', description: 'An API key (`POST /api/v1/api-keys`)' },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
      },
    },
    operations,
    components: { schemas, messages },
  };
}
