/**
 * Real session expiry for tests, decided by the server (no client-side simulation).
 *
 * killSession(): what Curator's test KillSession does, over a raw socket. The
 * server derives a session's password from its id (ZooKeeperServer.generatePasswd:
 * `new java.util.Random(sessionId ^ 0xB3415C00L).nextBytes(byte[16])`, checked
 * against the 3.8 jar), so a test can take over any session it knows the id of
 * (e.g. a znode's ephemeralOwner), then close it: the server deletes the session's
 * ephemeral nodes at once, closes the owner's connection on every member, and the
 * owner, when it reconnects, is told SESSION_EXPIRED by the server.
 */
import { connect } from 'node:net';

const MASK48 = (1n << 48n) - 1n;
const MULT = 0x5deece66dn;

/** java.util.Random(seed).nextBytes(new byte[n]) */
export function javaRandomBytes(seed: bigint, n: number): Buffer {
  let s = (BigInt.asUintN(64, seed) ^ MULT) & MASK48;
  const next32 = (): number => {
    s = (s * MULT + 0xbn) & MASK48;
    return Number(BigInt.asIntN(32, s >> 16n));
  };
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; ) {
    let rnd = next32();
    for (let k = Math.min(n - i, 4); k-- > 0; rnd >>= 8) out[i++] = rnd & 0xff;
  }
  return out;
}

/** The password ZooKeeper gives session `id`. */
export function sessionPassword(id: bigint): Buffer {
  return javaRandomBytes(BigInt.asIntN(64, id) ^ 0xb3415c00n, 16);
}

/**
 * Take over session `sessionId` on `server` ("host:port", no chroot) and close it.
 * Resolves once the server confirmed the close (or dropped the connection after
 * it); rejects when the server refuses the session (already gone, bad password)
 * or nothing happens within `timeoutMs`.
 */
export function killSession(server: string, sessionId: bigint, timeoutMs = 10_000): Promise<void> {
  const i = server.lastIndexOf(':');
  const host = server.slice(0, i);
  const port = Number(server.slice(i + 1));
  const pw = sessionPassword(sessionId);
  // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly
  const conn = Buffer.alloc(4 + 4 + 8 + 4 + 8 + 4 + pw.length + 1);
  let o = 0;
  o = conn.writeInt32BE(conn.length - 4, o);
  o = conn.writeInt32BE(0, o);
  o = conn.writeBigInt64BE(0n, o);
  o = conn.writeInt32BE(30_000, o);
  o = conn.writeBigInt64BE(BigInt.asIntN(64, sessionId), o);
  o = conn.writeInt32BE(pw.length, o);
  o += pw.copy(conn, o);
  conn.writeUInt8(0, o);
  // RequestHeader(xid 1, closeSession -11), no body. The server reads it only once the
  // session is re-validated (it stops reading a connection until then).
  const close = Buffer.alloc(12);
  close.writeInt32BE(8, 0);
  close.writeInt32BE(1, 4);
  close.writeInt32BE(-11, 8);
  return new Promise<void>((resolve, reject) => {
    const sock = connect({ host, port });
    let buf = Buffer.alloc(0);
    let handshake = false;
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`killSession 0x${sessionId.toString(16)}: no answer from ${server} in ${timeoutMs} ms`)), timeoutMs);
    sock.on('connect', () => sock.write(Buffer.concat([conn, close])));
    sock.on('error', (e) => finish(handshake ? undefined : e));
    sock.on('close', () => finish(handshake ? undefined : new Error(`killSession 0x${sessionId.toString(16)}: ${server} closed the connection before the handshake`)));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const frame = buf.subarray(4, 4 + buf.readInt32BE(0));
        buf = buf.subarray(4 + frame.length);
        if (!handshake) {
          const timeOut = frame.readInt32BE(4);
          const sid = frame.readBigInt64BE(8);
          if (timeOut <= 0 || sid !== BigInt.asIntN(64, sessionId)) {
            return finish(new Error(`killSession 0x${sessionId.toString(16)}: the server refused the session (timeout ${timeOut}, session 0x${BigInt.asUintN(64, sid).toString(16)})`));
          }
          handshake = true;
        } else if (frame.readInt32BE(0) === 1) {
          const err = frame.readInt32BE(12);
          return finish(err === 0 ? undefined : new Error(`killSession: closeSession answered error ${err}`));
        }
      }
    });
  });
}
