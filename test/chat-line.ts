// An ingested chat line as a connector delivers it, for the unit suites of the hub and the ingest manager.
import type { IngestedChat } from '../src/vocabulary.js';

export const chatLine = (text: string, sourceId = text): IngestedChat => ({
  kind: 'chat',
  sourceId,
  user: { id: 'p1', name: 'viewer', badges: [] },
  text,
  sentAt: 1,
  emotes: [],
});
