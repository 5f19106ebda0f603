/**
 * The validated, frozen configuration every module receives. Built once at start-up by
 * `loadConfig()` (defaults < config file < SYMPHONY_* environment < flags); no module reads
 * `process.env` or argv on its own.
 *
 * Durations are milliseconds, sizes are bytes, whatever unit the user wrote them in.
 */
export interface StaticBackend {
  readonly host: string
  readonly port: number
}

export type RuntimeKind = 'docker' | 'process' | 'swarm'
/** How the proxy reaches containers (src/runtime/upstream.ts). */
export type UpstreamMode = 'auto' | 'direct' | 'published'
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
/** Log lines as JSON, as readable text, or `auto`: text on a terminal, JSON elsewhere. */
export type LogFormat = 'auto' | 'json' | 'pretty'
/** Access log lines: JSON lines, or the Common Log Format with symphony's fields appended. */
export type AccessLogFormat = 'json' | 'common'

export interface Config {
  /** Public listener of the proxy workers. */
  readonly port: number
  readonly host: string

  /** HTTPS (docs/https.md): certificate and key files, paired by position; empty = plain HTTP. */
  readonly tlsCerts: readonly string[]
  readonly tlsKeys: readonly string[]
  /** Plain-HTTP listener that redirects to HTTPS (308) and answers ACME's HTTP-01; null = none. */
  readonly httpPort: number | null
  /** ACME (docs/https.md): names to get certificates for; empty = no ACME. Lowercase, unique. */
  readonly acmeDomains: readonly string[]
  readonly acmeEmail: string | null
  readonly acmeDirectory: string
  /** A CA to trust for the ACME directory, besides the system's; null = none. */
  readonly acmeCaFile: string | null
  /** ACME's account, keys and certificates live under here. */
  readonly stateDir: string

  /** Docker image of the service (the control plane). Null when static backends are used. */
  readonly image: string | null
  /** Service name used in container names and labels; defaults from the image name. */
  readonly service: string
  readonly runtime: RuntimeKind
  /** Command line for the process runtime (split on spaces at spawn), or a container command override. */
  readonly command: string | null
  readonly containerPort: number
  readonly basePort: number
  /** direct: the container's address on its network; published: the host port; auto: direct when reachable. */
  readonly upstream: UpstreamMode
  /** Host address container ports are published on. */
  readonly publishHost: string
  /** KEY=VALUE pairs passed to every container or process. */
  readonly env: readonly string[]
  readonly network: string | null
  /** Swarm placement constraints (`node.role==worker`), passed through to every replica's service. */
  readonly constraints: readonly string[]
  /** Swarm placement preferences (`spread=node.labels.zone`). */
  readonly placementPrefs: readonly string[]
  /** Container memory limit in bytes, 0 = none. */
  readonly memory: number
  /** Container CPU limit (cores, fractions allowed), 0 = none. */
  readonly cpus: number
  readonly cleanupOnExit: boolean
  /** Start by taking the service over from the instance holding its lease (src/takeover/). */
  readonly takeover: boolean
  /** Rollouts: new replicas started at once (docs/deploy.md). */
  readonly rolloutSurge: number
  /** Rollouts: wait after a new replica turned healthy before the next step. */
  readonly rolloutPaceMs: number
  /** Rollouts: a new replica not healthy this long after its start rolls back. */
  readonly rolloutDeadlineMs: number

  /** Autoscaler: the sliding window over which requests are counted. */
  readonly windowMs: number
  readonly baseScaleCount: number
  readonly minContainers: number
  readonly maxContainers: number

  /** Health checks. */
  readonly faultIntervalMs: number
  readonly healthPath: string
  /** Always shorter than faultIntervalMs. */
  readonly healthTimeoutMs: number
  /** Health-check timeouts in a row that fail a backend; other failures fail it at once. */
  readonly unhealthyThreshold: number

  /** Data plane. */
  readonly threads: number
  /** Static backends instead of Docker (empty when --image is used). */
  readonly backends: readonly StaticBackend[]
  readonly connectTimeoutMs: number
  /** Time allowed for the upstream's response headers (and between body chunks). */
  readonly responseTimeoutMs: number
  readonly maxBodySize: number
  /** Largest request head in bytes (request line and headers); 431 above. */
  readonly maxHeaderSize: number
  readonly drainTimeoutMs: number
  /** Client connections at which the workers stop accepting until the count falls to 90 %; 0 = no limit. */
  readonly maxConnections: number
  /** Hold-while-starting: longest wait for a healthy backend (0 = none), and requests held per thread. */
  readonly queueTimeoutMs: number
  readonly queueLimit: number
  /** Bodies up to this size are buffered (replayable for holds and retries); larger ones stream. */
  readonly replayBodyLimit: number

  /** Admin listener: /metrics, /status, /healthz, /readyz. */
  readonly adminHost: string
  readonly adminPort: number
  /** Bearer token required by the admin API; null = none (allowed on loopback only). */
  readonly adminToken: string | null

  readonly logLevel: LogLevel
  readonly logFormat: LogFormat
  /** One line per finished request to this file, `-` for stdout; null = off. */
  readonly accessLog: string | null
  readonly accessLogFormat: AccessLogFormat
}

/**
 * The proxy threads' part of the configuration: built once by the composition root
 * (src/config/proxy-settings.ts), handed to the thread supervisor (src/gateway/proxy-threads.ts)
 * and on, as plain data, in each thread's serve task (src/worker/serve.ts).
 */
export type ProxySettings = Pick<Config, typeof PROXY_SETTING_KEYS[number]>

/**
 * The Config fields a proxy thread needs: the one list ProxySettings is made of. It lives here,
 * beside the type, so that this file imports nothing (src/config/proxy-settings.ts imports it).
 */
export const PROXY_SETTING_KEYS = ['threads', 'host', 'port', 'httpPort', 'connectTimeoutMs', 'responseTimeoutMs', 'maxBodySize', 'maxHeaderSize', 'queueTimeoutMs', 'queueLimit', 'replayBodyLimit', 'accessLog', 'accessLogFormat'] as const

/**
 * One certificate as a proxy thread loads it: files the main thread wrote after it checked them
 * (src/tls/certificate-set.ts), never the user's files themselves, so a thread cannot read a file
 * half-written or changed since the check.
 */
export interface ServedCertificate {
  readonly certFile: string
  readonly keyFile: string
  /** The DNS names in the certificate (SAN, or CN without SAN), wildcards as written (`*.example.com`). */
  readonly names: readonly string[]
}

/**
 * What a proxy thread needs for HTTPS: the certificates (the first is the default, for clients
 * without SNI) and where HTTP-01 challenge answers live (null = no ACME: every request on
 * --http-port is redirected).
 */
export interface ThreadTls {
  readonly certificates: readonly ServedCertificate[]
  readonly acmeChallengeDir: string | null
}
