// The ChatPulse dashboard: sign up or sign in (password or API key), watch a channel live: the mood right
// now (a word, an emoji, the shares of each label, a meter), a mood chart (the channel's past from
// /timeline, then live), hype and tilt moments, top emotes and chatters, chat tinted by sentiment with
// moderation buttons for hosts, moderators and admins; post into rooms, start and stop ingests, look at a past
// period's timeline and save it as a report; meet someone in a private room (matching, the room lifecycle,
// images). Built on the SDK, served from the same origin as the API. The OBS overlay is overlay.ts.
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
  type User,
} from '../client/index.js';
import { SentimentChart, type SentimentPoint } from './chart.js';
import { clock, emotesIn, formatScore, markMood, MOMENT_TEXT, momentOf, moodWord, sharesOf, type Moment, type Shares } from './mood.js';

/** The live chart keeps this much: the channel's recent past (loaded on open), then live mood frames. */
const LIVE_WINDOW_MS = 30 * 60_000;
/** The past loaded when a channel is opened, in buckets as long as the server's default mood window. */
const PAST_MS = 15 * 60_000;
const PAST_BUCKET_S = 10;
const MAX_MOMENTS = 50;
const TIMEOUT_S = 600;
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
  /** The gauge: `hyped`, `happy`, `mixed`, `salty` or `quiet`, and the last window's shares. */
  mood: string;
  shares: Shares;
  /** Points of the channel's past loaded from /timeline when it was opened (-1: not loaded). */
  pastPoints: number;
  moments: number;
  /** Whether the delete and timeout buttons show (host, moderator or admin of the watched room). */
  moderator: boolean;
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
  mood: 'quiet',
  shares: { total: 0, positive: 0, neutral: 0, negative: 0 },
  pastPoints: -1,
  moments: 0,
  moderator: false,
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

function clearNotice(): void {
  el('notice').hidden = true;
}

el('notice-close').addEventListener('click', clearNotice);

const SESSION_LOST =
  'The server restarted or your account is gone: sign in again (or create the account again). Without MONGODB_URL ' +
  'and JWT_SECRET the server keeps accounts and sign-ins in memory, so a restart forgets them.';

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
    // Signed in, and the server says the credentials are no good (a restart, a deleted account): start over.
    if (err instanceof ChatPulseError && err.status === 401 && !el('app').hidden) sessionLost();
    else show(explain(what, err));
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
  onTokens: (tokens) => {
    if (tokens) {
      STORE.setItem('chatpulse.tokens', JSON.stringify(tokens));
      return;
    }
    STORE.removeItem('chatpulse.tokens');
    // Dropped by the SDK itself (a refresh refused: the account is gone, or the server restarted with a new
    // secret): the page would go on as an anonymous viewer; say so and sign in again instead.
    if (!droppingTokens) setTimeout(tokensDropped, 0);
  },
});

/** True while the page itself forgets the tokens (sign-out, a lost session, switching to an API key). */
let droppingTokens = false;

function tokensDropped(): void {
  if (!el('app').hidden && client.accessToken === undefined && STORE.getItem('chatpulse.apiKey') === null) sessionLost();
}

let live: LiveConnection | null = null;
let me: User | null = null;
const moodChart = new SentimentChart(el('mood-chart'), LIVE_WINDOW_MS, 260, (m) => selectMoment(m.ts, 'chart'));
let timelineChart: SentimentChart | null = null;

// -------------------------------------------------------------------------------------------- auth

el('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget as HTMLFormElement;
  const register = (ev.submitter as HTMLButtonElement | null)?.value === 'register';
  const username = field(form, 'username');
  const password = field(form, 'password');
  void attempt(register ? 'Could not create the account' : 'Sign-in failed', async () => {
    client.setApiKey(undefined);
    STORE.removeItem('chatpulse.apiKey');
    if (register) await client.auth.register(username, password);
    try {
      await client.auth.login(username, password);
    } catch (err) {
      if (err instanceof ChatPulseError && err.status === 401) {
        throw new Error(
          'wrong username or password. New here, or did the server restart (accounts live in memory by default)? Use Create account.',
          { cause: err },
        );
      }
      throw err;
    }
    form.reset();
    clearNotice();
    await enter();
  });
});

el('key-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const form = ev.currentTarget as HTMLFormElement;
  void attempt('The API key was refused', async () => {
    droppingTokens = true;
    client.setTokens(undefined);
    droppingTokens = false;
    client.setApiKey(field(form, 'key'));
    await client.auth.me(); // check it before keeping it
    STORE.setItem('chatpulse.apiKey', field(form, 'key'));
    form.reset();
    clearNotice();
    await enter();
  });
});

el('signout').addEventListener('click', () => {
  void (async () => {
    live?.close();
    live = null;
    droppingTokens = true;
    if (client.accessToken !== undefined) await attempt('Sign-out failed', () => client.auth.logout());
    droppingTokens = false;
    client.setApiKey(undefined);
    STORE.removeItem('chatpulse.apiKey');
    leave();
  })();
});

/** The server refused the stored credentials: forget them, stop showing a channel, and say why. */
function sessionLost(): void {
  live?.close();
  live = null;
  droppingTokens = true;
  client.setTokens(undefined);
  droppingTokens = false;
  client.setApiKey(undefined);
  STORE.removeItem('chatpulse.tokens');
  STORE.removeItem('chatpulse.apiKey');
  leave();
  notify(SESSION_LOST);
}

function leave(): void {
  me = null;
  el('app').hidden = true;
  el('auth').hidden = false;
  el('signout').hidden = true;
  el('whoami').textContent = '';
  setConnection('idle', 'offline');
  setChannel(null);
  setMatch('idle');
}

async function enter(): Promise<void> {
  me = await client.auth.me();
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
  conn.on('frame', (f) => {
    // Moments: read defensively (a server without them never sends one).
    const raw = f as unknown as { type?: unknown; channel?: unknown };
    if (raw.type !== 'moment' || raw.channel !== state.channel) return;
    const m = momentOf(raw);
    if (m) addMoments([m]);
  });
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
  conn.on('close', () => {
    if (state.channel !== null) el('stat-viewers').textContent = '–'; // not a count we know while disconnected
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
    if (e.fatal === true && e.code === 'unauthorized') {
      if (live === conn) sessionLost(); // credentials refused (a restart, a deleted account): it stopped
      return;
    }
    if (e.fatal === true) setConnection('idle', 'offline: sign in again');
    notify(`${e.channel ?? 'Live'}: ${e.message} (${e.code})`);
  });
}

function setChannel(channel: string | null): void {
  state.channel = channel;
  state.messages = 0;
  state.moodFrames = 0;
  state.chartPoints = 0;
  state.lastLabel = null;
  state.pastPoints = -1;
  state.moments = 0;
  el('chat').replaceChildren();
  moodChart.clear();
  moments.clear();
  selectedMoment = null;
  renderMoments();
  emoteCounts.clear();
  chatterCounts.clear();
  renderTops();
  setModerator(false);
  setGauge(null, {}, 0);
  for (const id of ['stat-viewers', 'stat-rate', 'stat-score', 'stat-likes']) el(id).textContent = '–';
  const overlay = el('overlay-link') as HTMLAnchorElement;
  overlay.hidden = channel === null;
  if (channel !== null) overlay.href = `/overlay?channel=${encodeURIComponent(channel)}&style=bar&moments=1`;
  const room = channel?.startsWith('room:') === true;
  (el('chat-text') as HTMLInputElement).disabled = !room;
  (el('chat-send') as HTMLButtonElement).disabled = !room;
  (el('chat-file') as HTMLInputElement).disabled = !room;
  showRoomState(channel);
  (el('like-button') as HTMLButtonElement).disabled = channel === null;
  el('channel-status').textContent =
    channel === null ? 'Not watching a channel. Pick one, or start a room and chat in it to see its mood.' : `Joining ${channel}…`;
}

async function watch(channel: string): Promise<void> {
  if (!live) return;
  if (state.channel !== null && state.channel !== channel) live.unsubscribe(state.channel);
  setChannel(channel);
  STORE.setItem('chatpulse.channel', channel);
  void loadPast(channel);
  void loadMoments(channel);
  const ok = await attempt(`Cannot watch ${channel}`, () => (live as LiveConnection).subscribe(channel));
  if (ok && channel.startsWith('room:')) {
    void loadRoomState(channel);
    void loadModeration(channel);
  }
  if (ok && state.channel === channel) {
    clearNotice();
    el('channel-status').textContent = channel.startsWith('room:')
      ? `Watching ${channel}. Messages you send appear below.`
      : `Watching ${channel} (read-only).`;
  } else if (state.channel === channel) {
    el('channel-status').textContent = `Not watching ${channel}.`;
  }
}

// A newcomer's first channel: a room of their own (any signed-in user may host one), watched at once.
el('start-room').addEventListener('click', () => {
  void (async () => {
    const title = me === null ? 'My room' : `${me.username}'s room`;
    const room = await attempt('Cannot start a room', () => client.rooms.create({ title }));
    if (room === undefined) return;
    (el('channel-input') as HTMLInputElement).value = room.channel;
    void loadChannels();
    await watch(room.channel);
  })();
});

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
  item.append(user, label, like, moderation(m, name), text, time);
  count(m);
  if (m.file) item.append(attachment(m.file.url, name));
  list.append(item);
  while (list.childElementCount > MAX_MESSAGES) list.firstElementChild?.remove();
  if (stick) list.scrollTop = list.scrollHeight;
  state.messages++;
  state.lastLabel = m.sentiment.label;
}

function onMood(m: MoodFrame): void {
  // A quiet window's score is null (or, from an older server, 0 with no messages): never a neutral 0.
  const raw: unknown = m.score;
  const counts: Record<string, number> = { ...m.counts }; // a spread: a frame without counts reads as none
  const messages = Object.values(counts).reduce((a, n) => a + (typeof n === 'number' ? n : 0), 0);
  const score = typeof raw === 'number' && Number.isFinite(raw) && messages > 0 ? raw : null;
  const rate = typeof m.rate === 'number' ? m.rate : 0;
  const windowS = typeof m.window_s === 'number' && m.window_s > 0 ? m.window_s : 10;
  moodChart.push({ ts: m.ts, counts, score, perMinute: rate * 60, spanS: windowS });
  state.moodFrames++;
  state.chartPoints = moodChart.length;
  el('stat-rate').textContent = rate.toFixed(1);
  el('stat-score').textContent = formatScore(score);
  setGauge(score, counts, windowS);
}

// --------------------------------------------------------------------------------------- the gauge

function setGauge(score: number | null, counts: Record<string, number>, windowS: number): void {
  const shares = sharesOf(counts);
  const word = moodWord(score, shares.total);
  state.mood = word.key;
  state.shares = shares;
  markMood(el('mood-gauge'), word.key, shares);
  el('mood-emoji').textContent = word.emoji;
  el('mood-word').textContent = word.word;
  const windowText = windowS > 0 ? `the last ${windowS} s` : 'the last window';
  el('mood-detail').textContent =
    shares.total === 0
      ? `No messages in ${windowText}.`
      : `${shares.total} message${shares.total === 1 ? '' : 's'} in ${windowText}, mood score ${formatScore(score)}.`;
  for (const label of ['negative', 'neutral', 'positive'] as const) {
    el(`share-${label}`).style.flexGrow = String(shares[label]);
    el(`share-${label}`).textContent = shares[label] >= 12 ? `${shares[label]}%` : '';
    el(`pct-${label}`).textContent = shares.total === 0 ? '–' : `${shares[label]}%`;
  }
  el('mood-shares').setAttribute(
    'aria-label',
    shares.total === 0
      ? `No messages in ${windowText}`
      : `${shares.positive}% positive, ${shares.neutral}% neutral, ${shares.negative}% negative in ${windowText}`,
  );
  const meter = el('mood-meter');
  const needle = el('mood-needle');
  needle.hidden = score === null;
  if (score !== null) needle.style.left = `${((Math.max(-1, Math.min(1, score)) + 1) / 2) * 100}%`;
  meter.setAttribute('aria-valuenow', String(score ?? 0));
  meter.setAttribute('aria-valuetext', score === null ? 'quiet' : `${formatScore(score)}, ${word.word.toLowerCase()}`);
}

// ------------------------------------------------------------------------- the past, on opening

/** The channel's recent past from /timeline, drawn before the live points; quiet leading buckets dropped. */
async function loadPast(channel: string): Promise<void> {
  const to = Date.now() + 1000;
  const load = (from: number, bucket: number) => client.channels.timeline(channel, { from, to, bucket });
  let timeline;
  let bucket = PAST_BUCKET_S;
  try {
    timeline = await load(to - PAST_MS, bucket);
  } catch (err) {
    // A busy channel's sub-minute timeline may be refused (too many messages to scan): whole minutes then.
    if (!(err instanceof ChatPulseError) || err.status !== 400) {
      pastFailed(channel, err);
      return;
    }
    bucket = 60;
    try {
      timeline = await load(to - 4 * PAST_MS, bucket);
    } catch (again) {
      pastFailed(channel, again);
      return;
    }
  }
  if (state.channel !== channel) return;
  const points: SentimentPoint[] = timeline.buckets.map((b) => ({
    ts: typeof b.ts === 'number' ? b.ts : Date.parse(b.ts),
    counts: b.counts,
    score: typeof b.score === 'number' ? b.score : null,
    spanS: bucket,
  }));
  const first = points.findIndex((p) => Object.values(p.counts).some((n) => n > 0));
  const past = first < 0 ? [] : points.slice(first);
  moodChart.addPast(past);
  state.pastPoints = past.length;
  state.chartPoints = moodChart.length;
}

function pastFailed(channel: string, err: unknown): void {
  if (state.channel !== channel) return;
  state.pastPoints = 0;
  if (err instanceof ChatPulseError && err.status === 401) sessionLost();
  // Otherwise the chart simply starts live: the past is a bonus, not worth a banner.
}

// ------------------------------------------------------------------------------------------ moments

const moments = new Map<string, Moment>();
let selectedMoment: number | null = null;

async function loadMoments(channel: string): Promise<void> {
  const to = Date.now() + 1000;
  try {
    const reply = await client.request<{ moments?: unknown }>('GET', `/api/v1/channels/${encodeURIComponent(channel)}/moments`, {
      query: { from: to - 4 * PAST_MS, to, limit: MAX_MOMENTS },
    });
    if (state.channel !== channel || !Array.isArray(reply.moments)) return;
    addMoments(reply.moments.map(momentOf).filter((m): m is Moment => m !== null));
  } catch {
    // No moments route on this server (404), or none for this channel: no past moments, live ones still come.
  }
}

function addMoments(list: Moment[]): void {
  for (const m of list) moments.set(`${m.kind}:${m.ts}`, m);
  const sorted = [...moments.values()].sort((a, b) => a.ts - b.ts);
  while (sorted.length > MAX_MOMENTS) {
    const old = sorted.shift() as Moment;
    moments.delete(`${old.kind}:${old.ts}`);
  }
  renderMoments();
}

function renderMoments(): void {
  const sorted = [...moments.values()].sort((a, b) => b.ts - a.ts);
  state.moments = sorted.length;
  moodChart.setMoments(sorted);
  el('moments-empty').hidden = sorted.length > 0;
  el('moments').replaceChildren(
    ...sorted.map((m) => {
      const li = make('li', { className: `moment ${m.kind}${m.ts === selectedMoment ? ' selected' : ''}` });
      li.dataset.ts = String(m.ts);
      li.dataset.kind = m.kind;
      li.tabIndex = -1;
      const head = make('button', { className: 'moment-head link' });
      head.type = 'button';
      const when = make('time', { text: clock(m.ts) });
      when.dateTime = new Date(m.ts).toISOString();
      head.append(
        when,
        ` ${MOMENT_TEXT[m.kind].emoji} ${MOMENT_TEXT[m.kind].word} `,
        make('span', { className: 'muted', text: formatScore(m.score) }),
      );
      head.setAttribute(
        'aria-label',
        `${MOMENT_TEXT[m.kind].word} moment at ${clock(m.ts)}, score ${formatScore(m.score)}: show on the chart`,
      );
      head.addEventListener('click', () => selectMoment(m.ts, 'list'));
      const sample = make('ul', { className: 'sample' });
      for (const line of m.sample) sample.append(make('li', { text: line }));
      li.append(head, sample);
      return li;
    }),
  );
}

/** Highlights a moment in the list and on the chart, and brings the other one into view. */
function selectMoment(ts: number, from: 'chart' | 'list'): void {
  selectedMoment = ts;
  moodChart.highlight(ts);
  for (const li of document.querySelectorAll<HTMLElement>('#moments > li')) li.classList.toggle('selected', li.dataset.ts === String(ts));
  const target = from === 'chart' ? document.querySelector<HTMLElement>(`#moments > li[data-ts="${ts}"]`) : el('mood-chart');
  target?.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  if (from === 'chart') target?.focus({ preventScroll: true });
}

// ------------------------------------------------------------------------ top emotes and chatters

const emoteCounts = new Map<string, number>();
const chatterCounts = new Map<string, number>();
let topsPending = false;

function count(m: MessageFrame): void {
  const emotes = (m as MessageFrame & { emotes?: Array<{ name?: unknown; start?: unknown; end?: unknown }> }).emotes;
  for (const e of emotesIn(m.text, emotes)) emoteCounts.set(e, (emoteCounts.get(e) ?? 0) + 1);
  const who = m.user.display_name ?? m.user.name;
  chatterCounts.set(who, (chatterCounts.get(who) ?? 0) + 1);
  if (topsPending) return;
  topsPending = true;
  setTimeout(renderTops, 250);
}

function renderTops(): void {
  topsPending = false;
  const render = (id: string, counts: Map<string, number>) => {
    const top = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 5);
    el(id).replaceChildren(
      ...(top.length === 0
        ? [make('li', { className: 'muted', text: 'none yet' })]
        : top.map(([name, n]) => {
            const li = make('li');
            li.append(make('span', { className: 'name', text: name }), make('span', { className: 'count', text: String(n) }));
            return li;
          })),
    );
  };
  render('top-emotes', emoteCounts);
  render('top-chatters', chatterCounts);
}

// ---------------------------------------------------------------------------------------- moderation

function setModerator(on: boolean): void {
  state.moderator = on;
  el('chat').dataset.moderator = String(on);
}

/** Whether the signed-in user moderates the watched room: its host, one of its moderators, or an admin. */
async function loadModeration(channel: string): Promise<void> {
  if (!channel.startsWith('room:') || me === null) return;
  if (me.role === 'admin') {
    setModerator(true);
    return;
  }
  const room = await client.rooms.get(channel.slice('room:'.length)).catch(() => null);
  // `me` again: a sign-out while the room loaded clears it.
  if (room === null || state.channel !== channel || (me as User | null) === null) return;
  setModerator(room.owner_id === me.id || room.moderators.includes(me.id));
}

/** Delete and time-out buttons for a room message; shown by CSS only to moderators (`#chat[data-moderator]`). */
function moderation(m: MessageFrame, name: string): HTMLElement {
  const box = make('span', { className: 'mod' });
  if (!m.channel.startsWith('room:')) return box;
  const room = m.channel.slice('room:'.length);
  const del = make('button', { className: 'secondary danger', text: 'Delete' });
  del.type = 'button';
  del.setAttribute('aria-label', `Delete this message by ${name}`);
  del.addEventListener(
    'click',
    () =>
      void attempt(`Cannot delete ${name}'s message`, async () => {
        await client.request('DELETE', `/api/v1/rooms/${encodeURIComponent(room)}/messages/${encodeURIComponent(m.id)}`);
        document.querySelector(`#chat li[data-id="${CSS.escape(m.id)}"]`)?.remove(); // the delete frame does it too
      }),
  );
  box.append(del);
  if (m.user.id !== me?.id) {
    const timeout = make('button', { className: 'secondary danger', text: 'Timeout' });
    timeout.type = 'button';
    timeout.title = `No posting for ${TIMEOUT_S / 60} minutes`;
    timeout.setAttribute('aria-label', `Time out ${name} for ${TIMEOUT_S / 60} minutes`);
    timeout.addEventListener(
      'click',
      () =>
        void attempt(`Cannot time out ${name}`, async () => {
          await client.request('POST', `/api/v1/rooms/${encodeURIComponent(room)}/timeouts`, {
            body: { user_id: m.user.id, duration_s: TIMEOUT_S },
          });
          notify(`${name} is timed out for ${TIMEOUT_S / 60} minutes.`, 'info');
        }),
    );
    box.append(' ', timeout);
  }
  return box;
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
        score: typeof b.score === 'number' ? b.score : null,
        spanS: p.bucket,
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
  void enter().catch((err: unknown) => {
    if (err instanceof ChatPulseError && err.status === 401) {
      sessionLost();
      return;
    }
    leave();
    notify(explain('Your session has ended; sign in again', err));
  });
} else {
  leave();
}
