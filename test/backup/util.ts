/** Helpers for the backup / cp / diff tests. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatAcl } from '../../src/core/acl.js';
import { kindOf, relPath } from '../../src/core/backup.js';
import type { ACL } from '../../src/core/protocol/records.js';
import type { Session } from '../../src/core/session.js';
import { walk } from '../../src/core/tree.js';
import { type ChrootSession } from '../helpers/session.js';
import { type CliResult, runCli, type RunCliOptions, testSuperAuth } from '../helpers/zk.js';

export const tmp = (): string => mkdtempSync(join(process.env.ZKCTL_TEST_TMP ?? tmpdir(), 'zkbackup-'));

export function cli(c: ChrootSession, auth?: string) {
  return (args: string[], opts?: RunCliOptions): Promise<CliResult> => runCli([...args, '-s', c.server, ...(auth ? ['--auth', auth] : [])], opts);
}

export function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return r;
}

/** --auth value for the shared ensemble's super user (reads every ACL in full, passes every check). */
export function superAuth(): string {
  return `digest:${testSuperAuth()}`;
}

export function digestId(user: string, password: string): string {
  return `${user}:${createHash('sha1').update(`${user}:${password}`).digest('base64')}`;
}

export interface Snap {
  data: string;
  acl: string;
  ephemeral: boolean;
}

/** Everything a backup must keep, by path relative to `root` (data as hex). */
export async function snapshot(s: Session, root: string, opts: { ephemeral?: boolean } = {}): Promise<Map<string, Snap>> {
  const out = new Map<string, Snap>();
  for await (const n of walk(s, root, { withData: true, withAcl: true })) {
    const eph = kindOf(n.stat).type === 'ephemeral';
    if (eph && opts.ephemeral === false) continue;
    out.set(relPath(root, n.path), { data: (n.data ?? Buffer.alloc(0)).toString('hex'), acl: (n.acl ?? []).map(formatAcl).join(','), ephemeral: eph });
  }
  return out;
}

export function assertSameTree(a: Map<string, Snap>, b: Map<string, Snap>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, v] of a) assert.deepEqual(b.get(k), v, k);
}

const OPEN: ACL[] = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

/**
 * A test tree at `root`: random binary, UTF-8 (multi-line, trailing blank
 * lines, leading spaces), empty data, ACLs (read-only nodes with children,
 * digest ids), a deep chain, awkward names. Returns the node count.
 */
export async function buildTree(s: Session, root: string, opts: { extraNodes?: number } = {}): Promise<number> {
  let n = 0;
  const mk = async (p: string, data: Buffer = Buffer.alloc(0), acl: ACL[] = OPEN): Promise<void> => {
    await s.create(p, data, { acl });
    n++;
  };
  await mk(root, Buffer.from('the root'));
  await mk(`${root}/bin`, Buffer.concat([Buffer.from([0, 0xff, 0xfe, 0x0a, 0x0d]), randomBytes(2000)]));
  await mk(`${root}/utf8`, Buffer.from('héllo wörld € 😀\nzweite Zeile\n\n'));
  await mk(`${root}/lead`, Buffer.from('  leading spaces\n\ttab\n'));
  await mk(`${root}/crlf`, Buffer.from('a\r\nb\r\n'));
  await mk(`${root}/empty`);
  await mk(`${root}/json`, Buffer.from(JSON.stringify({ a: 1, b: [true, null, 'x'] })));
  await mk(`${root}/0001`, Buffer.from('true'));
  await mk(`${root}/.hidden`, Buffer.from('null'));
  await mk(`${root}/with space`, Buffer.from('s'));
  await mk(`${root}/ü-名前`, Buffer.from('名前'));
  // Read-only node with children: creating its children needs credentials past its ACL.
  const ro: ACL[] = [
    { perms: 1, id: { scheme: 'world', id: 'anyone' } },
    { perms: 31, id: { scheme: 'digest', id: digestId('bob', 'secret') } },
  ];
  await mk(`${root}/ro`, Buffer.from('read only'), ro);
  await mk(`${root}/ro/child`, Buffer.from('c'), [{ perms: 17, id: { scheme: 'ip', id: '127.0.0.1' } }, ...OPEN.map((a) => ({ ...a, perms: 3 }))]);
  let deep = `${root}/deep`;
  await mk(deep);
  for (let i = 0; i < 40; i++) {
    deep += `/d${i}`;
    await mk(deep, i % 3 === 0 ? randomBytes(i) : Buffer.from(`level ${i}`));
  }
  for (let i = 0; i < (opts.extraNodes ?? 0); i++) {
    if (i % 100 === 0) await mk(`${root}/many${i / 100}`);
    await mk(`${root}/many${Math.floor(i / 100)}/n${i}`, i % 2 ? randomBytes(20) : Buffer.from(`node ${i}`));
  }
  return n;
}
