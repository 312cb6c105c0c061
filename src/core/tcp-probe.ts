/** A TCP connect to host:port within `timeoutMs` (resolves when it connects; the socket is closed at once). */
import { connect } from 'node:net';

export function tcpConnect(host: string, port: number, timeoutMs = 1000, what = `${host}:${port}`): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      reject(Object.assign(new Error(`probe of ${what} timed out`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve();
    });
    s.once('error', (e) => {
      clearTimeout(t);
      s.destroy();
      reject(e);
    });
  });
}
