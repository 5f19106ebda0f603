/**
 * Layout of the shared backend table: one SharedArrayBuffer seen by the main thread and every
 * proxy worker. All offsets are in 32-bit words; every region that one party writes often starts
 * on its own 64-byte cache line so that writers do not false-share.
 *
 * ```
 * word 0     HEADER      line  magic, version, maxBackends, maxWorkers
 * word 16    CURSOR      line  round-robin cursor (u32, Atomics.add by workers)
 * word 32    ROTATION    line  seq (seqlock), length
 * word 48    ROT_ENTRIES       MAX_BACKENDS x (slot, id) — the healthy slots, in slot order
 * ...        SLOTS             MAX_BACKENDS x 32 words (main writes; workers read under seqlock)
 *                                seq, state, id, port, hostLen, trial, (2 spare), host bytes (96)
 * ...        BSTATS            (MAX_BACKENDS + 1) x 64 words (workers write with Atomics)
 *                                suspect, inflight, retries, errors[6], discarded, (6 spare),
 *                                responses[8 methods x 5 classes]
 *                                the extra block (index NO_BACKEND) counts answers the gateway
 *                                produced itself (503 no backend, 400, 413)
 * ...        WORKERS           MAX_WORKERS x 64 words (one worker writes each block)
 *                                requests, loopLagUs, heartbeat, held, holdExpired, holdMs,
 *                                cut[6], accessDropped, accessErrors,
 *                                histogram buckets, sum (µs), count,
 *                                TLS and redirect counters, idle releases, trialRetries (56)
 * ```
 *
 * Counters are u32 and wrap; the main thread samples them at least once a second and
 * accumulates deltas modulo 2^32 (src/metrics/sampler.ts), so totals stay exact as long as no
 * counter moves by 2^32 between two samples.
 *
 * Only the main thread writes ROTATION, ROT_ENTRIES and SLOTS; the one word workers write
 * beside a slot is its `suspect` word in BSTATS (passive health, cleared by the main thread).
 */

export const LINE_WORDS = 16
export const MAGIC = 0x53594d31 // 'SYM1'
export const VERSION = 1

export const MAX_BACKENDS = 256
export const MAX_WORKERS = 64
/** Longest host name or address a slot holds, in bytes (ASCII). */
export const MAX_HOST_BYTES = 96

/** Backend slot states. */
export const State = {
  EMPTY: 0,
  STARTING: 1,
  HEALTHY: 2,
  DRAINING: 3,
  UNHEALTHY: 4
} as const
export type StateValue = typeof State[keyof typeof State]
export const stateNames: readonly string[] = ['empty', 'starting', 'healthy', 'draining', 'unhealthy']

// Header
export const H_MAGIC = 0
export const H_VERSION = 1
export const H_MAX_BACKENDS = 2
export const H_MAX_WORKERS = 3

export const CURSOR = LINE_WORDS
export const ROT_SEQ = 2 * LINE_WORDS
export const ROT_LEN = ROT_SEQ + 1
export const ROT_ENTRIES = 3 * LINE_WORDS
export const ROT_ENTRY_WORDS = 2

// Slots
export const SLOTS = ROT_ENTRIES + MAX_BACKENDS * ROT_ENTRY_WORDS
export const SLOT_WORDS = 32
export const S_SEQ = 0
export const S_STATE = 1
export const S_ID = 2
export const S_PORT = 3
export const S_HOST_LEN = 4
/**
 * The id of the slot's backend while it runs the version a rollout is trying (src/rollout/),
 * else 0: a 5xx answer from it may be retried on a replica of the settled version
 * (src/worker/retry.ts). Keyed by id, like B_SUSPECT, so one atomic load tells it without the
 * slot's seqlock: a slot reassigned since carries another id and reads as not on trial.
 * Written by the main thread only (TableWriter.markTrial).
 */
export const S_TRIAL = 5
export const S_HOST = 8
export const SLOT_HOST_WORDS = MAX_HOST_BYTES / 4

// Per-backend statistics (worker-written)
export const BSTATS = SLOTS + MAX_BACKENDS * SLOT_WORDS
export const BSTAT_WORDS = 64
/** Index of the pseudo-backend that counts answers made by the gateway itself. */
export const NO_BACKEND = MAX_BACKENDS
export const B_SUSPECT = 0
export const B_INFLIGHT = 1
export const B_RETRIES = 2
export const B_ERRORS = 3
/**
 * 5xx answers of the backend, on trial in a rollout, that were discarded for a retry on a
 * settled one (src/worker/exchange.ts): not in B_RESPONSES (the client never saw them, and
 * symphony_requests_total stays equal to the requests answered), but failures all the same for
 * the rollout's analysis (src/rollout/answers.ts), which adds them in.
 */
export const B_DISCARDED = 9
export const B_RESPONSES = 16

/** Upstream error reasons, in the order of their counters. */
export const ErrorReason = {
  CONNECT: 0,
  TIMEOUT: 1,
  RESET: 2,
  PROTOCOL: 3,
  CLIENT_ABORT: 4,
  OTHER: 5
} as const
export const errorReasonNames: readonly string[] = ['connect', 'timeout', 'reset', 'protocol', 'client_abort', 'other']

/** Methods counted separately; anything else is OTHER (bounded label cardinality). */
export const methodNames: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER']
export const METHOD_OTHER = 7
/** Status classes 1xx..5xx, index = floor(status / 100) - 1. */
export const statusClassNames: readonly string[] = ['1xx', '2xx', '3xx', '4xx', '5xx']
export const STATUS_CLASSES = 5

// Per-worker blocks
export const WORKERS = BSTATS + (MAX_BACKENDS + 1) * BSTAT_WORDS
export const WORKER_WORDS = 64
export const W_REQUESTS = 0
export const W_LOOP_LAG_US = 1
export const W_HEARTBEAT = 2
/** Hold-while-starting: requests held, held ones that expired (503), total hold time (ms: µs would wrap within a second with a thousand 10 s holds). */
export const W_HELD = 3
export const W_HOLD_EXPIRED = 4
export const W_HOLD_MS = 5
/**
 * Answers cut mid-body (the upstream failed after part of its answer was written, so the
 * connection was closed): one word per ErrorReason, W_CUT + reason (6 words, 6..11).
 */
export const W_CUT = 6
/** Access log lines dropped (memory cap reached while the disk lagged, or a failed write): src/worker/access-log.ts. */
export const W_ACCESS_DROPPED = 12
/** Access log writes, opens and reopens that failed (one per failed call, not per line). */
export const W_ACCESS_ERRORS = 13
/**
 * The thread's copy slabs (src/worker/slabs.ts), stored by its maintenance tick: slabs handed
 * out and not given back yet (what is in use now), and slabs ever allocated (reuse keeps this
 * near the most ever in use at once).
 */
export const W_SLABS_OUT = 14
export const W_SLABS_MADE = 15
export const W_HIST = 16
export const W_HIST_SUM_US = 40
export const W_HIST_COUNT = 41
/**
 * HTTPS (src/worker/tls-app.ts, src/worker/redirect.ts): TLS client hellos naming a server name
 * that no certificate has (they get the default certificate, which their client will likely
 * refuse); certificate reloads a thread could not take (its new listener failed: it kept the
 * old certificates); 308 answers on --http-port; HTTP-01 challenge answers (200 or 404).
 */
export const W_TLS_UNKNOWN_NAME = 42
export const W_TLS_SWAP_FAILED = 43
export const W_REDIRECTS = 44
export const W_ACME_CHALLENGES = 45
/**
 * Client connections open on the thread's serving App(s), where the uWS build has `app.filter`
 * (src/worker/client-count.ts adds 1 per open and 1 less per close; the thread stores 0 when it
 * starts). The main thread sums them for --max-connections and /metrics
 * (src/gateway/thread-connections.ts); other builds leave it 0 and are counted from /proc/net.
 */
export const W_CLIENT_CONNECTIONS = 46
/**
 * The idle release (src/worker/idle-release.ts): releases (two full collections each) the thread
 * ran because it turned idle after serving, and its V8 heap's physical size (KiB) right after the last one.
 */
export const W_IDLE_RELEASES = 52
export const W_IDLE_HEAP_KIB = 53
/**
 * Requests whose 5xx answer from a replica on trial (a rollout's new version, S_TRIAL) was
 * discarded and that were sent again to a replica of the settled version
 * (symphony_rollout_retries_total). Words 46-55 are other features'; 56-59 the rollout's.
 */
export const W_TRIAL_RETRIES = 56

/**
 * Request duration histogram upper bounds in seconds (Prometheus `le`), 0.5 ms to 30 s.
 * The last bucket (+Inf) is implicit: count - sum of the others.
 */
export const latencyBucketsSeconds: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
]
/** The same bounds in microseconds, for the hot path. */
export const latencyBucketsUs: readonly number[] = latencyBucketsSeconds.map((s) => Math.round(s * 1e6))

export const TOTAL_WORDS = WORKERS + MAX_WORKERS * WORKER_WORDS

/** Word offset of slot `i`'s block. */
export function slotBase (i: number): number { return SLOTS + i * SLOT_WORDS }
/** Word offset of backend `i`'s statistics block (i = NO_BACKEND for gateway answers). */
export function bstatBase (i: number): number { return BSTATS + i * BSTAT_WORDS }
/** Word offset of worker `w`'s block. */
export function workerBase (w: number): number { return WORKERS + w * WORKER_WORDS }
/** Offset, inside a BSTATS block, of the response counter for a method index and a status. */
export function responseOffset (method: number, status: number): number {
  let cls = ((status / 100) | 0) - 1
  if (cls < 0) cls = 0
  else if (cls > 4) cls = 4
  return B_RESPONSES + method * STATUS_CLASSES + cls
}

/** Allocate and stamp a new table. */
export function createTableBuffer (): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(TOTAL_WORDS * 4)
  const i32 = new Int32Array(sab)
  i32[H_MAGIC] = MAGIC
  i32[H_VERSION] = VERSION
  i32[H_MAX_BACKENDS] = MAX_BACKENDS
  i32[H_MAX_WORKERS] = MAX_WORKERS
  return sab
}

/** Throws when a buffer was not made by createTableBuffer() of this version. */
export function checkTableBuffer (sab: SharedArrayBuffer): void {
  const i32 = new Int32Array(sab)
  if (sab.byteLength !== TOTAL_WORDS * 4 || i32[H_MAGIC] !== MAGIC || i32[H_VERSION] !== VERSION) {
    throw new Error('shared backend table: wrong size, magic or version')
  }
}

/** Method name (as sent, case-sensitive) to counter index. */
export function methodIndex (method: string): number {
  switch (method) {
    case 'GET': return 0
    case 'HEAD': return 1
    case 'POST': return 2
    case 'PUT': return 3
    case 'PATCH': return 4
    case 'DELETE': return 5
    case 'OPTIONS': return 6
    default: return METHOD_OTHER
  }
}
