/**
 * How an import plan looks: its rows (ACTION, PATH, DETAIL) and its one-line summary.
 */
import type { ImportPlan, PlanEntry } from '../core/backup.js';
import type { Column } from './index.js';

export const planColumns: Column<PlanEntry>[] = [
  { header: 'ACTION', key: 'action', get: (r) => r.action },
  { header: 'PATH', key: 'path', get: (r) => r.path },
  { header: 'DETAIL', key: 'detail', get: (r) => r.detail },
];

/** One line: what a plan does, by kind of change (import and cp, dry run or done). */
export function planSummary(plan: ImportPlan): string {
  const c = plan.counts;
  const parts = [`${c.create} to create`];
  if (c.update) parts.push(`${c.update} data updates`);
  if (c.acl) parts.push(`${c.acl} ACL changes`);
  if (c.delete) parts.push(`${c.delete} to delete`);
  if (c.keep) parts.push(`${c.keep} existing left as they are`);
  if (c.type) parts.push(`${c.type} type mismatches`);
  if (c.skip) parts.push(`${c.skip} ephemeral skipped`);
  if (c.unchanged) parts.push(`${c.unchanged} unchanged`);
  return parts.join(', ');
}
