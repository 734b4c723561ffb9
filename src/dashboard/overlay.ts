// The OBS overlay (`/overlay?channel=…&style=bar|meter&moments=1`): a transparent page with the channel's mood
// right now (word, emoji, shares of each label as a bar or a dial) and, with `moments=1`, the latest hype and
// tilt moments. Anonymous (a public channel needs no sign-in), and it never gives up: the SDK's live
// connection reconnects with backoff, and a refused subscription is asked again.
import { ChatPulseClient, type MoodFrame } from '../client/index.js';
import { clock, formatScore, markMood, MOMENT_TEXT, momentOf, moodWord, sharesOf, type Moment } from './mood.js';

const SHOW_MOMENTS = 3;
/** Moments older than this leave the overlay. */
const MOMENT_TTL_MS = 10 * 60_000;
const RESUBSCRIBE_MS = 30_000;

interface OverlayState {
  channel: string | null;
  style: 'bar' | 'meter';
  connection: string;
  mood: string;
  frames: number;
  moments: number;
  positive: number;
  neutral: number;
  negative: number;
}

declare global {
  interface Window {
    __overlay: OverlayState;
  }
}

function el(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found;
}

const params = new URLSearchParams(location.search);
const typed = (params.get('channel') ?? '').trim();
const channel = typed === '' ? null : /^(twitch|tiktok):/i.test(typed) ? typed.toLowerCase() : typed;
const style = params.get('style') === 'meter' ? 'meter' : 'bar';
const showMoments = ['1', 'true', 'yes', 'on'].includes((params.get('moments') ?? '').toLowerCase());

const state: OverlayState = {
  channel,
  style,
  connection: 'idle',
  mood: 'quiet',
  frames: 0,
  moments: 0,
  positive: 0,
  neutral: 0,
  negative: 0,
};
window.__overlay = state;
document.body.dataset.style = style;

function setConnection(s: string): void {
  state.connection = s;
  const dot = el('status');
  dot.hidden = s === 'open';
  dot.title = s === 'open' ? 'live' : `${s}…`;
}

function onMood(m: MoodFrame): void {
  const raw: unknown = m.score;
  const counts: Record<string, number> = { ...m.counts }; // a spread: a frame without counts reads as none
  const shares = sharesOf(counts);
  const score = typeof raw === 'number' && Number.isFinite(raw) && shares.total > 0 ? raw : null;
  const word = moodWord(score, shares.total);
  state.frames++;
  state.mood = word.key;
  state.positive = shares.positive;
  state.neutral = shares.neutral;
  state.negative = shares.negative;
  markMood(el('widget'), word.key, shares);
  el('emoji').textContent = word.emoji;
  el('word').textContent = word.word;
  el('detail').textContent = score === null ? 'chat is quiet' : `mood ${formatScore(score)} · ${shares.total} msgs`;
  for (const label of ['negative', 'neutral', 'positive'] as const) {
    el(`share-${label}`).style.flexGrow = String(shares[label]);
    el(`share-${label}`).textContent = shares[label] >= 12 ? `${shares[label]}%` : '';
  }
  el('shares').setAttribute(
    'aria-label',
    shares.total === 0 ? 'No messages' : `${shares.positive}% positive, ${shares.neutral}% neutral, ${shares.negative}% negative`,
  );
  const needle = el('needle');
  const dial = el('dial-needle');
  needle.hidden = score === null;
  dial.toggleAttribute('hidden', score === null); // an SVG element: no `hidden` property
  if (score !== null) {
    const s = Math.max(-1, Math.min(1, score));
    needle.style.left = `${((s + 1) / 2) * 100}%`;
    dial.style.transform = `rotate(${s * 90}deg)`;
  }
}

const moments = new Map<string, Moment>();

function addMoments(list: Moment[]): void {
  for (const m of list) moments.set(`${m.kind}:${m.ts}`, m);
  renderMoments();
}

function renderMoments(): void {
  const now = Date.now();
  for (const [key, m] of moments) if (now - m.ts > MOMENT_TTL_MS) moments.delete(key);
  const recent = [...moments.values()].sort((a, b) => b.ts - a.ts).slice(0, SHOW_MOMENTS);
  state.moments = recent.length;
  const list = el('moments');
  list.hidden = !showMoments || recent.length === 0;
  list.replaceChildren(
    ...recent.map((m) => {
      const li = document.createElement('li');
      li.className = m.kind;
      li.dataset.ts = String(m.ts);
      const sample = m.sample[0];
      li.append(`${MOMENT_TEXT[m.kind].emoji} ${MOMENT_TEXT[m.kind].word} · ${clock(m.ts)}`);
      if (sample !== undefined) {
        const s = document.createElement('span');
        s.className = 'sample';
        s.textContent = ` “${sample}”`;
        li.append(s);
      }
      return li;
    }),
  );
}

function start(name: string): void {
  const client = new ChatPulseClient({ baseUrl: location.origin });
  const live = client.live({ heartbeat: { intervalMs: 20_000, timeoutMs: 10_000 }, reconnect: { minDelayMs: 1000, maxDelayMs: 30_000 } });
  setConnection('connecting');
  live.on('open', () => setConnection('open'));
  live.on('reconnecting', () => setConnection('reconnecting'));
  live.on('mood', (m) => m.channel === name && onMood(m));
  live.on('frame', (f) => {
    const raw = f as unknown as { type?: unknown; channel?: unknown };
    if (raw.type !== 'moment' || raw.channel !== name) return;
    const m = momentOf(raw);
    if (m) addMoments([m]);
  });
  const subscribe = (): void => {
    // A final refusal (say, a room that does not exist yet) drops the channel in the SDK: ask again later.
    live.subscribe(name).catch(() => setTimeout(subscribe, RESUBSCRIBE_MS));
  };
  subscribe();
  if (showMoments) {
    // Live moment frames only: the moments route needs a signed-in user, and an overlay has no sign-in.
    setInterval(renderMoments, 15_000);
  }
}

if (channel === null) {
  el('widget').replaceChildren(
    Object.assign(document.createElement('p'), {
      className: 'message',
      textContent: 'Add ?channel=twitch:login (or room:id, tiktok:user) to this overlay’s URL.',
    }),
  );
} else {
  start(channel);
}
