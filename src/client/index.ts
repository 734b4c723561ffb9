// ChatPulse's client SDK: REST (ChatPulseClient) and real time (LiveConnection), for Node 20+ and browsers,
// with no dependencies (docs/sdk.md). In Node 20, pass a WebSocket: `{ WebSocket: (await import('ws')).WebSocket }`.
export { ChatPulseClient, type ApiResponse, type ClientOptions, type ReportInput, type RequestOptions, type RoomInput } from './client.js';
export { ChatPulseError, LiveError } from './errors.js';
export {
  LiveConnection,
  type ChannelOptions,
  type ChannelPosition,
  type ChatAck,
  type ChatOptions,
  type CredentialsContext,
  type GapEvent,
  type HeartbeatOptions,
  type LiveCredentials,
  type LiveErrorEvent,
  type LiveEvent,
  type LiveEvents,
  type LiveOptions,
  type LiveState,
  type ReconnectOptions,
  type RecoveredEvent,
  type WebSocketConstructor,
  type WebSocketLike,
} from './live.js';
export * from './types.js';
