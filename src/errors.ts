/**
 * The product's one error family: every code symphony shows (an exit, a proxy answer, an admin
 * answer) is a `SYM_ERR_*` constant defined here. One class per control-plane condition (undici's
 * errors.js and fastify's codes are the model), low-level causes kept as `cause`. docs/errors.md
 * lists every code with its meaning and HTTP status or exit code; test/errors.test.ts checks
 * that codes are unique and documented there.
 *
 * Control-plane errors that stop start-up carry the process exit code the CLI uses;
 * test/errors.test.ts checks the exit-status table of docs/errors.md against them.
 */
export abstract class SymphonyError extends Error {
  abstract readonly code: string
  /**
   * Exit status when this error stops the command (docs/errors.md, "Errors that stop the
   * command"); null for the conditions the control loops log and retry, which never do: one that
   * reached the CLI all the same would be a bug, and is reported as one.
   */
  readonly exitCode: number | null = null

  constructor (message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A flag, environment variable or config-file value is wrong. Exit 2, like most CLIs' usage errors. */
export class ConfigError extends SymphonyError {
  readonly code = 'SYM_ERR_CONFIG'
  override readonly exitCode = 2
}

/** The Docker engine cannot be reached (socket missing, permissions, DOCKER_HOST). */
export class DockerUnavailableError extends SymphonyError {
  readonly code = 'SYM_ERR_DOCKER_UNAVAILABLE'
  override readonly exitCode = 3
}

/** The image is not present locally and could not be pulled. */
export class ImageUnavailableError extends SymphonyError {
  readonly code = 'SYM_ERR_IMAGE_UNAVAILABLE'
  override readonly exitCode = 4
}

/**
 * --runtime swarm cannot work here: the engine is not a Swarm manager, the --network is not an
 * overlay, or symphony is not attached to it (it dials replicas at their overlay addresses).
 */
export class SwarmSetupError extends SymphonyError {
  readonly code = 'SYM_ERR_SWARM_SETUP'
  override readonly exitCode = 6
}

/** A listener (public or admin) could not bind its address. */
export class ListenError extends SymphonyError {
  readonly code = 'SYM_ERR_LISTEN'
  override readonly exitCode = 5
}

/**
 * No native uWebSockets.js build loads on this Node.js and C library (src/uws/select.ts says
 * which one each needs). symphony never runs on uWS's pure-JS emulation: it refuses at start.
 */
export class UnsupportedRuntimeError extends SymphonyError {
  readonly code = 'SYM_ERR_UNSUPPORTED_RUNTIME'
  override readonly exitCode = 7
}

/**
 * --access-log names a file symphony cannot open for appending at start-up (a missing directory,
 * no permission, a directory): the user's mistake, so nothing is started. Once running, a
 * failing access log is logged and counted instead and never stops the proxy (docs/logs.md).
 */
export class AccessLogError extends SymphonyError {
  readonly code = 'SYM_ERR_ACCESS_LOG'
  override readonly exitCode = 8
}

/**
 * `symphony remove` refused: a symphony still manages the service (its admin API answers for it,
 * or a running container or Swarm service runs symphony for it), and would start the replicas
 * again. Stop that symphony first.
 */
export class StillManagedError extends SymphonyError {
  readonly code = 'SYM_ERR_STILL_MANAGED'
  override readonly exitCode = 22
}

/** `symphony remove` removed some of the service's replicas but not all; the line names what remains. */
export class RemoveIncompleteError extends SymphonyError {
  readonly code = 'SYM_ERR_REMOVE_INCOMPLETE'
  override readonly exitCode = 23
}

/**
 * A --tls-cert or --tls-key file is missing, unreadable, or not a PEM certificate or private key
 * that node:crypto can parse (src/tls/certificate.ts). At start-up nothing listens; on a reload
 * the certificate in use stays, and the failure is logged and counted (docs/https.md).
 */
export class CertificateFileError extends SymphonyError {
  readonly code = 'SYM_ERR_TLS_FILE'
  override readonly exitCode = 9
}

/** A private key does not belong to the certificate it is paired with. As above otherwise. */
export class CertificateKeyMismatchError extends SymphonyError {
  readonly code = 'SYM_ERR_TLS_KEY_MISMATCH'
  override readonly exitCode = 10
}

/**
 * --state-dir cannot be created or written (src/tls/acme/store.ts): ACME could keep neither its
 * account nor its certificates, so nothing is started.
 */
export class StateDirError extends SymphonyError {
  readonly code = 'SYM_ERR_STATE_DIR'
  override readonly exitCode = 11
}

/**
 * An ACME order failed (the server refused it, a challenge was not validated, the directory was
 * unreachable). Logged and counted; retried with a backoff, never stopping the gateway
 * (src/tls/acme/manager.ts).
 */
export class AcmeOrderError extends SymphonyError {
  readonly code = 'SYM_ERR_ACME_ORDER'
}

/**
 * Another symphony holds the service's lease on this engine or swarm (src/lease/): a second
 * control plane would fight the first over the same replicas, so nothing is started. The message
 * names the holder (pid, host, admin address) and how to hand over instead.
 */
export class LeaseHeldError extends SymphonyError {
  readonly code = 'SYM_ERR_LEASE_HELD'
  override readonly exitCode = 20
}

/**
 * `--takeover` could not be done: no instance holds the service's lease, its admin address does
 * not answer, it refuses (it is stopping, or already handing over), or the admin token does not
 * match. Said before anything is adopted or started; the running instance is left as it was.
 */
export class TakeoverError extends SymphonyError {
  readonly code = 'SYM_ERR_TAKEOVER'
  override readonly exitCode = 21
}

/** A rollout rolled back: the new version failed (symphony deploy). */
export class RolledBackError extends SymphonyError {
  readonly code = 'SYM_ERR_ROLLED_BACK'
  override readonly exitCode = 12
}

/** A deploy was refused: another rollout runs (the message names its target). */
export class RolloutRunningError extends SymphonyError {
  readonly code = 'SYM_ERR_ROLLOUT_RUNNING'
  override readonly exitCode = 13
}

/** A deploy was refused: the gateway proxies fixed --backend targets (or local processes) it does not start. */
export class RolloutUnsupportedError extends SymphonyError {
  readonly code = 'SYM_ERR_ROLLOUT_UNSUPPORTED'
  override readonly exitCode = 14
}

/** symphony deploy: the admin API does not answer at the address given. */
export class AdminUnreachableError extends SymphonyError {
  readonly code = 'SYM_ERR_ADMIN_UNREACHABLE'
  override readonly exitCode = 15
}

/** symphony deploy: the admin API refused the token (401), or the answer was not symphony's. */
export class AdminRefusedError extends SymphonyError {
  readonly code = 'SYM_ERR_ADMIN_REFUSED'
  override readonly exitCode = 16
}

/** symphony deploy: the rollout did not end within --timeout (it goes on in the gateway). */
export class RolloutTimeoutError extends SymphonyError {
  readonly code = 'SYM_ERR_ROLLOUT_TIMEOUT'
  override readonly exitCode = 17
}

/** A container or process could not be started. Logged and retried by the control loops. */
export class StartError extends SymphonyError {
  readonly code = 'SYM_ERR_START'
}

/** A replica's host port is held by something else: the fleet skips that port for a while. */
export class PortInUseError extends SymphonyError {
  readonly code = 'SYM_ERR_PORT_IN_USE'
}

/**
 * Data-plane conditions. They never travel as exceptions past the uWS handler: the proxy turns
 * them into a status and a small JSON body `{"error":{"code":…,"message":…}}` at one boundary
 * (src/worker/respond.ts). Listed here so that the codes live in one place.
 */
export const ProxyErrorCodes = {
  /** 502: the upstream refused the connection, reset it, or sent a malformed response. */
  UPSTREAM_FAILED: 'SYM_ERR_UPSTREAM_FAILED',
  /** 504: the upstream did not connect within --connect-timeout or answer within --response-timeout. */
  UPSTREAM_TIMEOUT: 'SYM_ERR_UPSTREAM_TIMEOUT',
  /** 503: no backend is healthy. */
  NO_BACKEND: 'SYM_ERR_NO_BACKEND',
  /** 413: the request body is larger than --max-body-size. */
  BODY_TOO_LARGE: 'SYM_ERR_BODY_TOO_LARGE',
  /** 400: the request could be read two ways (framing) or is malformed. */
  BAD_REQUEST: 'SYM_ERR_BAD_REQUEST',
  /** 431: the request head is larger than --max-header-size. */
  HEADERS_TOO_LARGE: 'SYM_ERR_HEADERS_TOO_LARGE',
  /** 408: the request body arrived too slowly (under 160 KiB in 6.5 s). */
  REQUEST_TIMEOUT: 'SYM_ERR_REQUEST_TIMEOUT'
} as const

export type ProxyErrorCode = typeof ProxyErrorCodes[keyof typeof ProxyErrorCodes]

/** Answers of the admin API (src/admin/server.ts), as the same small JSON body. */
export const AdminErrorCodes = {
  /** 401: --admin-token is set and the request has no matching bearer token. */
  UNAUTHORIZED: 'SYM_ERR_UNAUTHORIZED',
  /** 404: no such admin route. */
  NOT_FOUND: 'SYM_ERR_NOT_FOUND',
  /** 405: a method the route does not accept (GET and HEAD, plus the write a route declares). */
  METHOD: 'SYM_ERR_METHOD',
  /** 413: an admin request body past 64 KiB. */
  BODY_TOO_LARGE: 'SYM_ERR_ADMIN_BODY_TOO_LARGE',
  /** 400: a write's body is not what the route expects (the message says what is). */
  BAD_REQUEST: 'SYM_ERR_ADMIN_BAD_REQUEST',
  /** 500: a route failed (a bug, or a scrape that threw). */
  INTERNAL: 'SYM_ERR_INTERNAL'
} as const

export type AdminErrorCode = typeof AdminErrorCodes[keyof typeof AdminErrorCodes]

/** Every error code, for the uniqueness/documentation test. */
export const allErrorCodes: readonly string[] = [
  'SYM_ERR_CONFIG',
  'SYM_ERR_DOCKER_UNAVAILABLE',
  'SYM_ERR_IMAGE_UNAVAILABLE',
  'SYM_ERR_LISTEN',
  'SYM_ERR_START',
  'SYM_ERR_PORT_IN_USE',
  'SYM_ERR_SWARM_SETUP',
  'SYM_ERR_UNSUPPORTED_RUNTIME',
  'SYM_ERR_ACCESS_LOG',
  'SYM_ERR_STILL_MANAGED',
  'SYM_ERR_REMOVE_INCOMPLETE',
  'SYM_ERR_TLS_FILE',
  'SYM_ERR_TLS_KEY_MISMATCH',
  'SYM_ERR_STATE_DIR',
  'SYM_ERR_ACME_ORDER',
  'SYM_ERR_LEASE_HELD',
  'SYM_ERR_TAKEOVER',
  'SYM_ERR_ROLLED_BACK',
  'SYM_ERR_ROLLOUT_RUNNING',
  'SYM_ERR_ROLLOUT_UNSUPPORTED',
  'SYM_ERR_ADMIN_UNREACHABLE',
  'SYM_ERR_ADMIN_REFUSED',
  'SYM_ERR_ROLLOUT_TIMEOUT',
  ...Object.values(ProxyErrorCodes),
  ...Object.values(AdminErrorCodes)
]
