/**
 * Committing a planned publish (one transaction, P's version the commit point;
 * a lost race is a version conflict, exit 5) and rollback (a kept version
 * published again).
 */
import { ConnectionError, ZkCode, ZkError, ZkctlError } from '../../errors.js';
import { ensurePath } from '../../nodes.js';
import type { Session } from '../../session.js';
import { type ConfigMap } from '../../config/document.js';

import { type PublishOptions, type PublishResult, VersionConflictError } from './layout.js';
import { readHistoryEntry } from './read.js';
import { planPublish, type PublishPlan } from './plan.js';

/**
 * Publish `doc` at `path` (see the module comment). Validates the document,
 * reads the live state, plans, measures, and (unless dryRun) commits it in one
 * transaction. Throws VersionConflictError (exit 5) when another publish came
 * first or `expectVersion` does not match, ConfigTooLargeError (exit 2) when the
 * transaction exceeds the request limit.
 */
export async function publishConfig(session: Session, path: string, doc: ConfigMap, opts: PublishOptions = {}): Promise<PublishResult> {
  const plan = await planPublish(session, path, doc, opts);
  if (opts.dryRun || !plan.changed) return plan.result;
  return applyPublish(session, plan);
}

/**
 * Second half of publishConfig: commit a plan in one transaction. Throws
 * VersionConflictError (exit 5) when P moved since the plan read it: then
 * nothing of the plan was written.
 */
export async function applyPublish(session: Session, plan: PublishPlan): Promise<PublishResult> {
  const { path, result } = plan;
  if (!plan.changed) return result;
  // Check-first: P's ancestors may lie below a node whose parent denies CREATE.
  if (!plan.existed) await ensurePath(session, path, { parentsOnly: true, existing: 'check-first' });
  try {
    await session.multi(plan.ops);
  } catch (e) {
    if (e instanceof ZkError) {
      const idx = (e as ZkError & { opIndex?: number }).opIndex ?? -1;
      if (e.code === ZkCode.BAD_VERSION || (!plan.existed && idx === 0 && e.code === ZkCode.NODE_EXISTS)) {
        throw new VersionConflictError(
          `${path} was published by someone else since version ${result.previousVersion} was read; nothing of this publish was written`,
          'read the new version (zkctl config get) and publish again',
        );
      }
      throw new ZkctlError(`publish to ${path} failed, nothing was written: ${e.message}`, e.exitCode, {
        hint: 'the tree under the path was changed outside zkctl while publishing; run again',
      });
    }
    if (e instanceof ConnectionError) {
      throw new ConnectionError(`${e.message} (the publish may or may not have been applied)`, { hint: `check with zkctl config history ${path}` });
    }
    throw e;
  }
  return { ...result, dryRun: false, changed: true, version: result.nextVersion };
}

/** Publish a kept version again (exactly: keys not in it are removed). */
export async function rollbackConfig(session: Session, path: string, toVersion: number, opts: Omit<PublishOptions, 'prune' | 'rollbackOf'> = {}): Promise<PublishResult> {
  const entry = await readHistoryEntry(session, path, toVersion);
  return publishConfig(session, path, entry.document, {
    ...opts,
    prune: true,
    rollbackOf: toVersion,
    message: opts.message ?? `rollback to version ${toVersion}`,
  });
}
