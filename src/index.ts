/**
 * zkctl as a library: the session layer, typed errors, and the recipes, usable
 * without the CLI (nothing here imports oclif or chalk, nothing prints).
 */
export * from './core/errors.js';
export * from './core/session.js';
export * from './core/paths.js';
export * from './core/duration.js';
export * as tree from './core/tree.js';
export * as acl from './core/acl.js';
export * as data from './core/data.js';
export * as backup from './core/backup.js';
export * as treediff from './core/treediff.js';
export * as lock from './core/recipes/lock.js';
export * as election from './core/recipes/election.js';
export * as revoke from './core/recipes/revoke.js';
export * as watchers from './core/recipes/watchers.js';
export * as services from './core/recipes/services.js';
export * as configPublish from './core/recipes/config-publish.js';
export * as dispatch from './core/dispatch/index.js';
export * as ensemble from './ensemble/index.js';
export * as health from './ensemble/health.js';
