/**
 * The text line of a znode event (`zkctl watch` and the shell's `watch`): time, event, path,
 * zxid, version, added/removed, children (with `children`), data, "(resync)". Colours only with
 * `color`, once loadChalk() has resolved.
 */
import { dataText, zxidHex } from '../core/recipes/watch-stream.js';
import type { ZnodeEvent } from '../core/recipes/watchers.js';
import { loadedChalk } from './color.js';

export function watchEventText(e: ZnodeEvent, o: { color: boolean; children?: boolean }): string {
  const chalk = o.color ? loadedChalk() : undefined;
  const type = e.type.padEnd(16);
  const parts = [e.time.toISOString(), chalk ? typeColor(e.type)(type) : type, e.path];
  if (e.zxid !== undefined) parts.push(`zxid=${zxidHex(e.zxid)}`);
  if (e.version !== undefined) parts.push(`version=${e.version}`);
  if (e.added?.length) parts.push(`added=${e.added.join(',')}`);
  if (e.removed?.length) parts.push(`removed=${e.removed.join(',')}`);
  if (o.children && e.children) parts.push(`children=${e.children.join(',')}`);
  if (e.data) parts.push(`data=${dataText(e.data)}`);
  if (e.resync) parts.push(chalk ? chalk.yellow('(resync)') : '(resync)');
  return parts.join(' ');

  function typeColor(t: ZnodeEvent['type']): (s: string) => string {
    const c = chalk!;
    return t === 'created' ? c.green : t === 'deleted' ? c.red : t === 'data-changed' ? c.cyan : c.magenta;
  }
}
