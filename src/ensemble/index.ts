/**
 * zkctl's ensemble library: run a local ZooKeeper ensemble (real servers),
 * talk four-letter words to any server, and tell the status of any ensemble.
 * No oclif, no chalk, never prints.
 */
export * from './zk-install.js';
export * from './config.js';
export * from '../core/fourlw.js';
export * from './status.js';
export * from './proc.js';
export * from './local.js';
export { isEnsembleDir } from './store.js';
export * from './roster.js';
export * from './view.js';
export { tailFile, followFile, LineSplitter } from './logs.js';
export * from './membership.js';
export { isSettled, settledStatus } from './settle.js';
export * from './sync.js';
