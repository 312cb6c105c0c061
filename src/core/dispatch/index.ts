export * from './rng.js';
export * from './endpoint.js';
export * from './strategies.js';
export * from './budget.js';
export * from './dispatcher.js';
