// Real-time channels: names, the bus between processes, presence, likes, mood windows, rooms and their
// lifecycle (room-lifecycle.ts), and the hub that turns chat, likes and subscriptions into frames. Each port's file holds its memory driver;
// redis-*.ts and mongo-rooms.ts hold the others.
export { MemoryChannelBus, SYSTEM_CHANNEL, type BusEvent, type ChannelBus, type MessageEvent } from './bus.js';
export { ChannelHub, topicOf, type Fanout, type HubCounters, type HubOptions, type Published, type Since, type Welcome } from './hub.js';
export { MemoryLikeStore, type LikeStore, type LikeTotals } from './likes.js';
export { MoodWindow, polarityOf, type MoodSummary } from './mood.js';
export { parseChannel, roomChannel, ROOM_ID_PATTERN, type ChannelKind, type ChannelName } from './names.js';
export { MemoryPresenceStore, type PresenceStore } from './presence.js';
export { lifecycleMembers, RoomLifecycleService, type RoomLifecycleDeps, type RoomLifecycleOptions } from './room-lifecycle.js';
export {
  MAX_TIMEOUTS_PER_ROOM,
  MemoryRoomStore,
  RoomService,
  roomView,
  type RoomRecord,
  type RoomStore,
  type RoomUsers,
  type RoomView,
} from './rooms.js';
