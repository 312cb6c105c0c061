/**
 * Typed errors and the one table that maps them to process exit codes.
 * Core code throws these; the CLI's base command turns them into a one-line
 * message and the exit code below. Nothing else in the project picks exit codes.
 */

export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NO_NODE: 3,
  NODE_EXISTS: 4,
  BAD_VERSION: 5,
  NOT_EMPTY: 6,
  NO_AUTH: 7,
  CONNECTION: 8,
  SESSION_EXPIRED: 9,
  NOT_ACQUIRED: 10,
  LOST: 11,
  CHECK_FAILED: 12,
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit-code table as documented (README, man page, `zkctl --help`). */
export const EXIT_CODE_TABLE: ReadonlyArray<{ code: number; meaning: string }> = [
  { code: 0, meaning: 'success' },
  { code: 1, meaning: 'other failure' },
  { code: 2, meaning: 'usage error (bad flag, bad path, bad input file)' },
  { code: 3, meaning: 'no such node' },
  { code: 4, meaning: 'node exists' },
  { code: 5, meaning: 'version conflict (compare-and-set failed)' },
  { code: 6, meaning: 'node not empty' },
  { code: 7, meaning: 'not authorized / auth failed' },
  { code: 8, meaning: 'cannot reach the ensemble / connection lost / timed out' },
  { code: 9, meaning: 'session expired' },
  { code: 10, meaning: 'lock or leadership not acquired in time (--try, --timeout); a waited-for condition not met in time (wait, services wait)' },
  { code: 11, meaning: 'lock or leadership lost while the command ran (child was stopped)' },
  { code: 12, meaning: 'a check failed (health, bench thresholds, drift)' },
  { code: 130, meaning: 'interrupted' },
];

/** Base class: every error zkctl raises on purpose carries its exit code. */
export class ZkctlError extends Error {
  readonly exitCode: number;
  /** Optional hint shown after the message ("what to do"). */
  readonly hint?: string;
  /**
   * Facts for scripts: with -o json / --json the CLI writes {"error": message, ...details} on
   * stdout as well (one JSON object), besides the one-line message on stderr.
   */
  details?: Record<string, unknown>;
  constructor(message: string, exitCode: number = ExitCode.FAILURE, opts: { hint?: string; cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = opts.hint;
    if (opts.details) this.details = opts.details;
  }
}

export class UsageError extends ZkctlError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.USAGE, { hint });
  }
}

export class CheckFailedError extends ZkctlError {
  constructor(message: string) {
    super(message, ExitCode.CHECK_FAILED);
  }
}

export class NotAcquiredError extends ZkctlError {
  constructor(message: string) {
    super(message, ExitCode.NOT_ACQUIRED);
  }
}

export class LostError extends ZkctlError {
  constructor(message: string) {
    super(message, ExitCode.LOST);
  }
}

export class InterruptedError extends ZkctlError {
  constructor(message = 'interrupted') {
    super(message, ExitCode.INTERRUPTED);
  }
}

/** Cannot reach the ensemble, the connection was lost, or a request timed out. */
export class ConnectionError extends ZkctlError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, ExitCode.CONNECTION, opts);
  }
}

export class TimeoutError extends ConnectionError {}

export class SessionExpiredError extends ZkctlError {
  constructor(message = 'session expired') {
    super(message, ExitCode.SESSION_EXPIRED);
  }
}

/**
 * ZooKeeper server error codes (KeeperException.Code). Includes the 3.5+ codes
 * that node-zookeeper-client does not know.
 */
export const ZkCode = {
  OK: 0,
  SYSTEM_ERROR: -1,
  RUNTIME_INCONSISTENCY: -2,
  DATA_INCONSISTENCY: -3,
  CONNECTION_LOSS: -4,
  MARSHALLING_ERROR: -5,
  UNIMPLEMENTED: -6,
  OPERATION_TIMEOUT: -7,
  BAD_ARGUMENTS: -8,
  NEW_CONFIG_NO_QUORUM: -13,
  RECONFIG_IN_PROGRESS: -14,
  UNKNOWN_SESSION: -12,
  API_ERROR: -100,
  NO_NODE: -101,
  NO_AUTH: -102,
  BAD_VERSION: -103,
  NO_CHILDREN_FOR_EPHEMERALS: -108,
  NODE_EXISTS: -110,
  NOT_EMPTY: -111,
  SESSION_EXPIRED: -112,
  INVALID_CALLBACK: -113,
  INVALID_ACL: -114,
  AUTH_FAILED: -115,
  SESSION_MOVED: -118,
  NOT_READ_ONLY: -119,
  EPHEMERAL_ON_LOCAL_SESSION: -120,
  NO_WATCHER: -121,
  REQUEST_TIMEOUT: -122,
  RECONFIG_DISABLED: -123,
  SESSION_CLOSED_REQUIRE_SASL_AUTH: -124,
  QUOTA_EXCEEDED: -125,
  THROTTLED_OP: -127,
} as const;

const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(ZkCode).map(([k, v]) => [v, k]),
);

export function zkCodeName(code: number): string {
  return CODE_NAMES[code] ?? `UNKNOWN_CODE(${code})`;
}

const CODE_MESSAGES: Record<number, string> = {
  [ZkCode.NO_NODE]: 'no such node',
  [ZkCode.NODE_EXISTS]: 'node already exists',
  [ZkCode.BAD_VERSION]: 'version conflict: the node changed since it was read',
  [ZkCode.NOT_EMPTY]: 'node has children',
  [ZkCode.NO_AUTH]: 'not authorized',
  [ZkCode.AUTH_FAILED]: 'authentication failed',
  [ZkCode.SESSION_CLOSED_REQUIRE_SASL_AUTH]: 'the server requires SASL authentication and closed the session',
  [ZkCode.SESSION_EXPIRED]: 'session expired',
  [ZkCode.CONNECTION_LOSS]: 'connection lost',
  [ZkCode.NO_CHILDREN_FOR_EPHEMERALS]: 'ephemeral nodes cannot have children',
  [ZkCode.INVALID_ACL]: 'invalid ACL',
  [ZkCode.BAD_ARGUMENTS]: 'bad arguments',
  [ZkCode.UNIMPLEMENTED]: 'operation not implemented by this server',
  [ZkCode.RECONFIG_DISABLED]: 'reconfig is disabled on the server (reconfigEnabled=false)',
  [ZkCode.RECONFIG_IN_PROGRESS]: 'another reconfiguration is in progress',
  [ZkCode.NEW_CONFIG_NO_QUORUM]: 'the new configuration has no quorum of connected servers',
  [ZkCode.NO_WATCHER]: 'no such watcher',
  [ZkCode.QUOTA_EXCEEDED]: 'quota exceeded',
  [ZkCode.THROTTLED_OP]: 'request throttled by the server',
  [ZkCode.MARSHALLING_ERROR]: 'marshalling error (request too large?)',
  [ZkCode.NOT_READ_ONLY]: 'the member is read-only (cut off from its quorum): it serves reads only, writes are refused',
};

const CODE_EXIT: Record<number, number> = {
  [ZkCode.NO_NODE]: ExitCode.NO_NODE,
  [ZkCode.NODE_EXISTS]: ExitCode.NODE_EXISTS,
  [ZkCode.BAD_VERSION]: ExitCode.BAD_VERSION,
  [ZkCode.NOT_EMPTY]: ExitCode.NOT_EMPTY,
  [ZkCode.NO_AUTH]: ExitCode.NO_AUTH,
  [ZkCode.AUTH_FAILED]: ExitCode.NO_AUTH,
  [ZkCode.SESSION_CLOSED_REQUIRE_SASL_AUTH]: ExitCode.NO_AUTH,
  [ZkCode.CONNECTION_LOSS]: ExitCode.CONNECTION,
  [ZkCode.OPERATION_TIMEOUT]: ExitCode.CONNECTION,
  [ZkCode.REQUEST_TIMEOUT]: ExitCode.CONNECTION,
  [ZkCode.SESSION_MOVED]: ExitCode.CONNECTION,
  // A write to a read-only member: the quorum cannot be reached from there (retry later, as exit 8 says).
  [ZkCode.NOT_READ_ONLY]: ExitCode.CONNECTION,
  [ZkCode.SESSION_EXPIRED]: ExitCode.SESSION_EXPIRED,
  [ZkCode.BAD_ARGUMENTS]: ExitCode.USAGE,
  [ZkCode.INVALID_ACL]: ExitCode.USAGE,
  [ZkCode.NO_CHILDREN_FOR_EPHEMERALS]: ExitCode.USAGE,
};

/** An error reply from the server (a KeeperException). */
export class ZkError extends ZkctlError {
  readonly code: number;
  readonly codeName: string;
  readonly path?: string;
  constructor(code: number, path?: string, op?: string) {
    const what = CODE_MESSAGES[code] ?? zkCodeName(code).toLowerCase().replace(/_/g, ' ');
    const where = path ? `${path}: ` : '';
    super(`${where}${what}${op ? ` (${op})` : ''}`, CODE_EXIT[code] ?? ExitCode.FAILURE);
    this.code = code;
    this.codeName = zkCodeName(code);
    this.path = path;
  }
  is(code: number): boolean {
    return this.code === code;
  }
}

/**
 * NO_NODE because the session's chroot itself does not exist on the server
 * (every path under it is then missing): says so, instead of "/: no such node".
 */
export class ChrootMissingError extends ZkError {
  readonly chroot: string;
  constructor(chroot: string, path?: string, hosts = 'HOST:PORT') {
    super(ZkCode.NO_NODE, path);
    this.chroot = chroot;
    this.message = `chroot ${chroot} does not exist on the server${path ? `, so ${path} does not either` : ''}`;
    (this as { hint?: string }).hint = `create it first: zkctl create ${chroot} --server ${hosts}; or fix the chroot in --server, ZKCTL_SERVER or the context`;
  }
}

export function isZkCode(err: unknown, code: number): boolean {
  return err instanceof ZkError && err.code === code;
}

/** Map anything thrown to an exit code (unknown errors are 1). */
export function exitCodeOf(err: unknown): number {
  if (err instanceof ZkctlError) return err.exitCode;
  return ExitCode.FAILURE;
}
