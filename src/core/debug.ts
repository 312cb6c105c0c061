/**
 * Debug logging to stderr, enabled by DEBUG=zkctl* (or DEBUG=zkctl:session,...)
 * or by the CLI's --verbose. Off by default: core code is otherwise silent.
 */
let forced = false;

export function enableDebug(on = true): void {
  forced = on;
}

function enabled(ns: string): boolean {
  if (forced) return true;
  const spec = process.env.DEBUG;
  if (!spec) return false;
  return spec.split(/[\s,]+/).some((pat) => {
    if (!pat) return false;
    if (pat === '*') return true;
    if (pat.endsWith('*')) return ns.startsWith(pat.slice(0, -1));
    return pat === ns;
  });
}

export type DebugFn = ((msg: string) => void) & { enabled: boolean };

export function createDebug(ns: string): DebugFn {
  const fn = ((msg: string) => {
    if (!enabled(ns)) return;
    process.stderr.write(`${new Date().toISOString()} ${ns} ${msg}\n`);
  }) as DebugFn;
  Object.defineProperty(fn, 'enabled', { get: () => enabled(ns) });
  return fn;
}
