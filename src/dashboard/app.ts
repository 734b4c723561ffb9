// The ChatPulse dashboard: sign in (password or API key), watch a channel live (chat tinted by sentiment,
// mood chart, rate, viewers, likes), post into rooms, start and stop ingests, and look at a past period's
// timeline and save it as a report; meet someone in a private room (matching, the room lifecycle, images). Built on the SDK, served from the same origin as the API.
import {
  ChatPulseClient,
  ChatPulseError,
  LiveError,
  type Ingest,
  type LiveConnection,
  type MessageFrame,
  type MoodFrame,
  type NotificationFrame,
  type Report,
  type RoomStateFrame,
} from '../client/index.js';
import { SentimentChart } from './chart.js';

const LIVE_WINDOW_MS = 5 * 60_000;
const MAX_MESSAGES = 300;
const STORE = sessionStorage;

/** What the page shows, for people and for tests (`window.__chatpulse`). */
interface DashboardState {
  connection: string;
  channel: string | null;
  messages: number;
  moodFrames: number;
  chartPoints: number;
  lastLabel: string | null;
  timelinePoints: number;
  /** Matching: `idle`, `waiting` (queued), `matched`. */
  match: string;
  /** The watched room's lifecycle state, when it has one. */
  roomState: string | null;
}

declare global {
  interface Window {
    __chatpulse: DashboardState;
  }
}

const state: DashboardState = {
  connection: 'idle',
  channel: null,
  messages: 0,
  moodFrames: 0,
  chartPoints: 0,
  lastLabel: null,
  timelinePoints: 0,
  match: 'idle',
  roomState: null,
};
window.__chatpulse = state;

function el(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found;
}

function make<K extends keyof HTMLElementTagNameMap>(tag: K, props: { className?: string; text?: string } = {}): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  return node;
}

function field(form: HTMLFormElement, name: string): string {
  const value = new FormData(form).get(name);
  return typeof value === 'string' ? value.trim() : '';
}

// ------------------------------------------------------------------------------------------ notices

function notify(message: string, kind: 'error' | 'info' = 'error'): void {
  const box = el('notice');
  el('notice-text').textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
}

el('notice-close').addEventListener('click', () => (el('notice').hidden = true));

/** A human sentence for a failed call; a 404 on a whole feature says the server does not offer it. */
function explain(what: string, err: unknown): string {
  if (err instanceof ChatPulseError) {
    if (err.status === 404 && err.message.startsWith('no route')) return `${what}: this server does not offer this yet (404).`;
    if (err.status === 404) return `${what}: not found (${err.message}).`;
    if (err.status === 0) return `${what}: the server cannot be reached (${err.message}).`;
    const retry = err.retryAfterS === undefined ? '' : ` Try again in ${err.retryAfterS} s.`;
    return `${what}: ${err.message} (${err.status} ${err.code}).${retry}`;
  }
  if (err instanceof LiveError) return `${what}: ${err.message} (${err.code}).`;
  return `${what}: ${err instanceof Error ? err.message : String(err)}`;
}

async function attempt<T>(what: string, work: () => Promise<T>, show: (msg: string) => void = notify): Promise<T | undefined> {
  try {
    return await work();
  } catch (err) {
    show(explain(what, err));
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------ client

function storedTokens(): { access?: string; refresh?: string } {
  try {
    return JSON.parse(STORE.getItem('chatpulse.tokens') ?? '{}') as { access?: string; refresh?: string };
  } catch {
    return {};
  }
}

const saved = storedTokens();
const savedKey = STORE.getItem('chatpulse.apiKey') ?? undefined;
const client = new ChatPulseClient({
  baseUrl: location.origin,
  ...(saved.access === undefined ? {} : { token: saved.access }),
  ...(saved.refresh === undefined ? {} : { refreshToken: saved.refresh }),
  ...(savedKey === undefined ? {} : { apiKey: savedKey }),
  onTokens: (tokens) => (tokens ? STORE.setItem('chatpulse.tokens', JSON.stringify(tokens)) : STORE.removeItem('chatpulse.tokens')),
});

let live: LiveConnection | null = null;
const moodChart = new SentimentChart(el('mood-chart'), LIVE_WINDOW_MS);
let timelineChart: SentimentChart | null = null;

// -------------------------------------------------------------------------------------------- auth

el('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget as HTMLFormElement;
  void attempt('Sign-in failed', async () => {
    client.setApiKey(undefined);
    STORE.removeItem('chatpulse.apiKey');
    await client.auth.login(field(form, 'username'), field(form, 'password'));
    form.reset();
    await enter();
  });
});

el('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget as HTMLFormElement;
  void attempt('The API key was refused', async () => {
    client.setTokens(undefined);
    client.setApiKey(field(form, 'key'));
    await client.auth.me(); // check it before keeping it
    STORE.setItem('chatpulse.apiKey', field(form, 'key'));
    form.reset();
    await enter();
  });
});

el('signout').addEventListener('click', () => {
  void (async () => {
    live?.close();
    live = null;
    if (client.accessToken !== undefined) await attempt('Sign-out failed', () => client.auth.logout());
    client.setApiKey(undefined);
    STORE.removeItem('chatpulse.apiKey');
    leave();
  })();
});

function leave(): void {
  el('app').hidden = true;
  el('auth').hidden = false;
  el('signout').hidden = true;
  el('whoami').textContent = '';
  setConnection('idle', 'offline');
  setChannel(null);
  setMatch('idle');
}

async function enter(): Promise<void> {
  const me = await client.auth.me();
  el('whoami').textContent =
    `${me.username}${me.role === 'admin' ? ' (admin)' : ''}${client.accessToken === undefined ? ' · API key' : ''}`;
  el('auth').hidden = true;
  el('app').hidden = false;
  el('signout').hidden = false;
  connect();
  const remembered = STORE.getItem('chatpulse.channel');
  if (remembered) {
    (el('channel-input') as HTMLInputElement).value = remembered;
    void watch(remembered);
  }
  void loadChannels();
  void loadIngests();
  void loadReports();
  defaultPeriod();
  void client.match.get().then(
    () => setMatch('waiting'),
    () => setMatch('idle'), // 404: not queued
  );
}

// -------------------------------------------------------------------------------------------- live

function setConnection(s: string, text: string): void {
  state.connection = s;
  const pill = el('conn');
  pill.dataset.state = s;
  pill.textContent = text;
}

function connect(): void {
  live?.close();
  const conn = client.live({ heartbeat: { intervalMs: 20_000, timeoutMs: 10_000 }, reconnect: { minDelayMs: 500, maxDelayMs: 15_000 } });
  live = conn;
  setConnection('connecting', 'connecting…');
  conn.on('open', ({ reconnected }) => setConnection('open', reconnected ? 'live (reconnected)' : 'live'));
  conn.on('reconnecting', ({ delayMs }) => setConnection('reconnecting', `reconnecting in ${Math.ceil(delayMs / 1000)} s…`));
  conn.on('message', (m) => m.channel === state.channel && addMessage(m));
  conn.on('messages', (f) => f.channel === state.channel && f.items.forEach(addMessage));
  conn.on('mood', (m) => m.channel === state.channel && onMood(m));
  conn.on('presence', (p) => p.channel === state.channel && (el('stat-viewers').textContent = String(p.viewers)));
  conn.on('subscribed', (s) => s.channel === state.channel && (el('stat-viewers').textContent = String(s.viewers)));
  conn.on('likes', (l) => {
    if (l.channel !== state.channel) return;
    el('stat-likes').textContent = String(l.total);
    if (l.message_id !== undefined && l.message_likes !== undefined) {
      const button = document.querySelector<HTMLButtonElement>(`#chat li[data-id="${CSS.escape(l.message_id)}"] .like`);
      if (button) button.textContent = `♥ ${l.message_likes}`;
    }
  });
  conn.on('delete', (d) => {
    if (d.channel === state.channel) document.querySelector(`#chat li[data-id="${CSS.escape(d.message_id)}"]`)?.remove();
  });
  conn.on('room_state', (r) => onRoomState(r));
  conn.on('notification', (n) => onNotification(n));
  conn.on('closed', (c) => {
    if (c.channel !== state.channel) return;
    // Ingested streams say why they stopped; a room is closed by its host.
    const why = c.reason === undefined || c.reason === 'closed' ? 'was closed by its host: posting is over' : `stopped (${c.reason})`;
    notify(`${c.channel} ${why}.`, 'info');
  });
  conn.on('error', (e) => {
    if (e.code === 'socket_error') return; // the reconnecting status says it
    if (e.fatal === true) setConnection('idle', 'offline: sign in again'); // credentials refused: it stopped
    notify(`${e.channel ?? 'Live'}: ${e.message} (${e.code})`);
  });
}

function setChannel(channel: string | null): void {
  state.channel = channel;
  state.messages = 0;
  state.moodFrames = 0;
  state.chartPoints = 0;
  state.lastLabel = null;
  el('chat').replaceChildren();
  moodChart.clear();
  for (const id of ['stat-viewers', 'stat-rate', 'stat-score', 'stat-likes']) el(id).textContent = '–';
  const room = channel?.startsWith('room:') === true;
  (el('chat-text') as HTMLInputElement).disabled = !room;
  (el('chat-send') as HTMLButtonElement).disabled = !room;
  (el('chat-file') as HTMLInputElement).disabled = !room;
  showRoomState(channel);
  (el('like-button') as HTMLButtonElement).disabled = channel === null;
  el('channel-status').textContent = channel === null ? 'Not watching a channel.' : `Joining ${channel}…`;
}

async function watch(channel: string): Promise<void> {
  if (!live) return;
  if (state.channel !== null && state.channel !== channel) live.unsubscribe(state.channel);
  setChannel(channel);
  STORE.setItem('chatpulse.channel', channel);
  const ok = await attempt(`Cannot watch ${channel}`, () => (live as LiveConnection).subscribe(channel));
  if (ok && channel.startsWith('room:')) void loadRoomState(channel);
  if (ok && state.channel === channel) {
    el('channel-status').textContent = channel.startsWith('room:')
      ? `Watching ${channel}. Messages you send appear below.`
      : `Watching ${channel} (read-only).`;
  } else if (state.channel === channel) {
    el('channel-status').textContent = `Not watching ${channel}.`;
  }
}

el('channel-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const typed = field(ev.currentTarget as HTMLFormElement, 'channel');
  // Twitch and TikTok names are case-insensitive and published lowercase; room ids keep their case.
  const channel = /^(twitch|tiktok):/i.test(typed) ? typed.toLowerCase() : typed;
  if (channel !== '') void watch(channel);
});

function addMessage(m: MessageFrame): void {
  const list = el('chat');
  const stick = list.scrollTop + list.clientHeight >= list.scrollHeight - 30;
  const item = make('li');
  item.dataset.id = m.id;
  item.dataset.label = m.sentiment.label;
  const name = m.user.display_name ?? m.user.name;
  const user = make('span', { className: 'user' });
  const avatarUrl = m.user.avatar_url ?? (m.channel.startsWith('room:') ? `/api/v1/users/${encodeURIComponent(m.user.id)}/avatar` : null);
  if (avatarUrl !== null) {
    const avatar = make('img', { className: 'avatar' });
    avatar.src = avatarUrl;
    avatar.alt = `Avatar of ${name}`;
    avatar.width = 24;
    avatar.height = 24;
    user.append(avatar);
  }
  user.append(name);
  for (const badge of m.user.badges) user.append(make('span', { className: 'badge', text: badge }));
  const label = make('span', { className: 'label', text: `${m.sentiment.label} ${m.sentiment.score.toFixed(2)}` });
  const text = make('span', { className: 'text', text: m.text });
  const like = make('button', { className: 'like secondary', text: '♥' });
  like.type = 'button';
  like.setAttribute('aria-label', `Like this message by ${m.user.name}`);
  like.addEventListener('click', () => sendLike(m.id));
  const time = make('time', { className: 'sr-only', text: new Date(m.ts).toLocaleTimeString() });
  time.dateTime = new Date(m.ts).toISOString();
  item.append(user, label, like, text, time);
  if (m.file) item.append(attachment(m.file.url, name));
  list.append(item);
  while (list.childElementCount > MAX_MESSAGES) list.firstElementChild?.remove();
  if (stick) list.scrollTop = list.scrollHeight;
  state.messages++;
  state.lastLabel = m.sentiment.label;
}

function onMood(m: MoodFrame): void {
  moodChart.push({ ts: m.ts, counts: m.counts, score: m.score });
  state.moodFrames++;
  state.chartPoints = moodChart.length;
  el('stat-rate').textContent = m.rate.toFixed(1);
  el('stat-score').textContent = `${m.score > 0 ? '+' : ''}${m.score.toFixed(2)}`;
}

el('chat-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget as HTMLFormElement;
  const text = field(form, 'text');
  const file = (el('chat-file') as HTMLInputElement).files?.[0];
  const channel = state.channel;
  if ((text === '' && file === undefined) || channel === null || !live) return;
  if (file !== undefined) {
    // Uploaded to the room first, then attached to the chat by its id; the file's name stands in for a missing text.
    void attempt('Image not sent', async () => {
      const uploaded = await client.rooms.upload(channel.slice('room:'.length), file);
      await (live as LiveConnection).chat(channel, text === '' ? file.name : text, { fileId: uploaded.id });
      form.reset();
    });
    return;
  }
  try {
    // Queued while reconnecting and resent until acknowledged; a refusal rejects (and is an `error` event too).
    live.chat(channel, text).catch((err: unknown) => notify(explain('Not sent', err)));
    form.reset();
  } catch (err) {
    notify(explain('Not sent', err));
  }
});

/** A room image: fetched with the caller's credentials (room files are not public), shown from an object URL. */
function attachment(url: string, from: string): HTMLImageElement {
  const img = make('img', { className: 'attachment' });
  img.alt = `Image from ${from}`;
  void attempt('Image not loaded', async () => {
    const blob = await client.files.get(url);
    const objectUrl = URL.createObjectURL(blob);
    img.addEventListener('load', () => URL.revokeObjectURL(objectUrl), { once: true });
    img.src = objectUrl;
  });
  return img;
}

// ---------------------------------------------------------------------------------- social rooms

/** Lifecycle state per room channel, from `room_state` frames, notifications and `GET /api/v1/rooms/{id}`. */
const roomStates = new Map<string, { state: string; endsAt: number | null }>();
const STATE_TEXT: Record<string, string> = {
  active: 'Active: the countdown starts in',
  countdown: 'Countdown: the room ends for decision in',
  decision: 'Keep this room? Decide within',
  kept: 'Kept: the room goes on',
  ended: 'This room has ended',
};

function setMatch(s: 'idle' | 'waiting' | 'matched', text?: string): void {
  state.match = s;
  el('match-join').hidden = s === 'waiting';
  el('match-leave').hidden = s !== 'waiting';
  el('match-status').textContent = text ?? (s === 'waiting' ? 'waiting…' : 'Get paired with one other person in a private room.');
}

el('match-join').addEventListener('click', () => {
  void attempt('Cannot join the queue', async () => {
    await client.match.join();
    setMatch('waiting', 'waiting… for someone to chat with');
  });
});

el('match-leave').addEventListener('click', () => {
  void attempt('Cannot leave the queue', async () => {
    await client.match.leave().catch((err: unknown) => {
      if (!(err instanceof ChatPulseError && err.status === 404)) throw err; // not queued any more: left anyway
    });
    setMatch('idle');
  });
});

function onNotification(n: NotificationFrame): void {
  if (n.kind === 'matched') {
    const room = typeof n.data.room === 'string' ? n.data.room : null;
    const partner = n.data.partner as { name?: unknown } | undefined;
    if (room === null) return;
    const name = typeof partner?.name === 'string' ? partner.name : 'someone';
    setMatch('matched', `Matched with ${name}: you are both in ${room}.`);
    (el('channel-input') as HTMLInputElement).value = room;
    void watch(room);
  } else if (n.kind === 'room_state') {
    const room = n.data.room;
    const s = n.data.state;
    const endsAt = n.data.ends_at;
    if (typeof room === 'string' && typeof s === 'string')
      setRoomState(room, s, typeof endsAt === 'number' ? endsAt : typeof endsAt === 'string' ? Date.parse(endsAt) : null);
  }
}

function onRoomState(r: RoomStateFrame): void {
  setRoomState(r.channel, r.state, r.ends_at);
}

function setRoomState(channel: string, s: string, endsAt: number | null): void {
  roomStates.set(channel, { state: s, endsAt });
  if (channel === state.channel) showRoomState(channel);
}

async function loadRoomState(channel: string): Promise<void> {
  const room = await attempt(
    'Room',
    () => client.rooms.get(channel.slice('room:'.length)),
    () => undefined,
  );
  if (room?.state === undefined || roomStates.has(channel)) return; // a frame that came first is newer
  const at = room.state_ends_at ?? null;
  const endsAt = at === null ? null : Date.parse(at);
  setRoomState(channel, room.state, endsAt);
}

function showRoomState(channel: string | null): void {
  const known = channel === null ? undefined : roomStates.get(channel);
  state.roomState = known?.state ?? null;
  el('room-state').hidden = known === undefined;
  el('room-start-countdown').hidden = known?.state !== 'active';
  el('room-keep').hidden = known?.state !== 'decision';
  el('room-end').hidden = known?.state !== 'decision';
  el('room-state-text').textContent = known === undefined ? '' : (STATE_TEXT[known.state] ?? known.state);
  tickCountdown();
}

function tickCountdown(): void {
  const known = state.channel === null ? undefined : roomStates.get(state.channel);
  const endsAt = known?.endsAt ?? null;
  const left = endsAt === null ? null : Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
  el('room-countdown').textContent = left === null ? '' : `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
}
setInterval(tickCountdown, 1000);

el('room-start-countdown').addEventListener('click', () => {
  const channel = state.channel;
  if (channel === null) return;
  void attempt('Cannot start the countdown', () => client.rooms.countdown(channel.slice('room:'.length)));
});

function decide(keep: boolean): void {
  if (state.channel === null || !live) return;
  try {
    live.decide(state.channel, keep);
  } catch (err) {
    notify(explain('Decision not sent', err));
  }
}

el('room-keep').addEventListener('click', () => decide(true));
el('room-end').addEventListener('click', () => decide(false));

function sendLike(messageId?: string): void {
  if (state.channel === null || !live) return;
  try {
    live.like(state.channel, messageId);
  } catch (err) {
    notify(explain('Like not sent', err));
  }
}

el('like-button').addEventListener('click', () => sendLike());

// ---------------------------------------------------------------------------------------- channels

async function loadChannels(): Promise<void> {
  const options = new Set<string>();
  const found = await attempt(
    'Recent channels',
    () => client.channels.list(),
    () => undefined,
  );
  for (const c of found?.items ?? []) options.add(c.channel);
  const rooms = await attempt(
    'Rooms',
    () => client.rooms.list({ limit: 50 }),
    () => undefined,
  );
  for (const r of rooms?.items ?? []) if (r.status !== 'closed') options.add(r.channel);
  el('channel-list').replaceChildren(
    ...[...options].map((value) => {
      const option = make('option');
      option.value = value;
      return option;
    }),
  );
}

// ------------------------------------------------------------------------------------------ ingest

function renderIngests(items: Ingest[]): void {
  el('ingest-list').replaceChildren(
    ...items.map((i) => {
      const li = make('li');
      const channel = `${i.source}:${i.channel}`;
      const name = make('span', { text: `${channel} · ${i.status}` });
      const watchButton = make('button', { className: 'secondary', text: 'Watch' });
      watchButton.type = 'button';
      watchButton.addEventListener('click', () => {
        (el('channel-input') as HTMLInputElement).value = channel;
        void watch(channel);
      });
      const stop = make('button', { className: 'secondary', text: 'Stop' });
      stop.type = 'button';
      stop.setAttribute('aria-label', `Stop ingesting ${channel}`);
      stop.addEventListener(
        'click',
        () =>
          void attempt(`Cannot stop ${channel}`, async () => {
            await client.ingest.delete(i.id);
            await loadIngests();
          }),
      );
      const actions = make('span');
      actions.append(watchButton, ' ', stop);
      li.append(name, actions);
      return li;
    }),
  );
}

async function loadIngests(): Promise<void> {
  const list = await attempt(
    'Ingest list',
    () => client.ingest.list(),
    (msg) => {
      el('ingest-list').replaceChildren(make('li', { className: 'muted', text: msg }));
    },
  );
  if (list) renderIngests(list.items);
}

el('ingest-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget as HTMLFormElement;
  const source = field(form, 'source') === 'tiktok' ? 'tiktok' : 'twitch';
  const channel = field(form, 'channel');
  void attempt(`Cannot start ingesting ${source}:${channel}`, async () => {
    const started = await client.ingest.create({ source, channel });
    notify(`Ingesting ${started.source}:${started.channel} (${started.status}).`, 'info');
    form.reset();
    await loadIngests();
  });
});

// ----------------------------------------------------------------------------------------- history

function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

function defaultPeriod(): void {
  const form = el('history-form') as HTMLFormElement;
  const now = Date.now();
  (form.elements.namedItem('from') as HTMLInputElement).value = localInput(now - 3600_000);
  (form.elements.namedItem('to') as HTMLInputElement).value = localInput(now + 60_000);
}

function period(): { from: number; to: number; bucket: number } | null {
  const form = el('history-form') as HTMLFormElement;
  const from = new Date(field(form, 'from')).getTime();
  const to = new Date(field(form, 'to')).getTime();
  if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) {
    notify('Pick a period whose start comes before its end.');
    return null;
  }
  return { from, to, bucket: Number(field(form, 'bucket')) || 300 };
}

function historyStatus(text: string): void {
  el('history-status').textContent = text;
}

el('history-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const channel = state.channel;
  const p = period();
  if (channel === null) {
    historyStatus('Watch a channel first: the timeline is for that channel.');
    return;
  }
  if (!p) return;
  historyStatus(`Loading ${channel}…`);
  void attempt(
    `Timeline of ${channel}`,
    async () => {
      const timeline = await client.channels.timeline(channel, p);
      const points = timeline.buckets.map((b) => ({
        ts: typeof b.ts === 'number' ? b.ts : Date.parse(b.ts),
        counts: b.counts,
        score: b.score,
      }));
      timelineChart ??= new SentimentChart(el('timeline-chart'));
      timelineChart.setPoints(points);
      state.timelinePoints = points.length;
      const total = points.reduce((n, b) => n + Object.values(b.counts).reduce((a, c) => a + c, 0), 0);
      historyStatus(`${channel}: ${total} messages in ${points.length} buckets.`);
    },
    historyStatus,
  );
});

el('report-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget as HTMLFormElement;
  const channel = state.channel;
  const p = period();
  if (channel === null) {
    historyStatus('Watch a channel first: a report is about one channel.');
    return;
  }
  if (!p) return;
  const title = field(form, 'title');
  void attempt(
    'Cannot save the report',
    async () => {
      const report = await client.reports.create({ channel, from: p.from, to: p.to, ...(title === '' ? {} : { title }) });
      historyStatus(`Saved report ${report.title}.`);
      form.reset();
      await loadReports();
    },
    historyStatus,
  );
});

function renderReports(items: Report[]): void {
  el('report-list').replaceChildren(
    ...items.map((r) => {
      const li = make('li');
      li.append(make('span', { text: `${r.title} · ${r.channel}` }));
      const del = make('button', { className: 'secondary', text: 'Delete' });
      del.type = 'button';
      del.setAttribute('aria-label', `Delete report ${r.title}`);
      del.addEventListener(
        'click',
        () =>
          void attempt('Cannot delete the report', async () => {
            await client.reports.delete(r.id);
            await loadReports();
          }),
      );
      li.append(del);
      return li;
    }),
  );
}

async function loadReports(): Promise<void> {
  const list = await attempt(
    'Reports',
    () => client.reports.list(),
    (msg) => {
      el('report-list').replaceChildren(make('li', { className: 'muted', text: msg }));
    },
  );
  if (list) renderReports(list.items);
}

// ------------------------------------------------------------------------------------------- start

if (client.signedIn) {
  void attempt('Your session has ended; sign in again', enter).then(() => {
    if (el('app').hidden) leave();
  });
} else {
  leave();
}
