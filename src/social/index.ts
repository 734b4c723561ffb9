// Social features above the channels: matching (the MatchQueue port with its memory and Redis drivers, the
// compatibility score, per-user recent moods, and the MatchService that pairs users into private rooms).
export * from './queue.js';
export * from './score.js';
export * from './moods.js';
export * from './service.js';
