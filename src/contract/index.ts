// The wire contract: one TypeBox schema per WebSocket frame (both ways) and per REST reply, and the frame
// constructors. It imports nothing but TypeBox, so the SDK shares it with the server.
export * from './vocabulary.js';
export * from './frames.js';
export * from './client-frames.js';
export * from './rest.js';
