/**
 * The one table of options. argv parsing, the config file, SYMPHONY_* variables, validation,
 * `--help` and the options table of docs/options.md are all generated from it, so an option exists in
 * every form or in none.
 *
 * Defaults are written the way a user would write them (`'120s'`, `'1gb'`) and go through the
 * same parsers as user input, so the help text and the effective value cannot disagree.
 */
import { MAX_BACKENDS, MAX_WORKERS } from '../table/layout'
import type { Config } from './types'

export type OptionKind =
  | 'int' | 'number' | 'duration' | 'size' | 'port' | 'host' | 'string' | 'path' | 'bool' | 'enum'
  /** Repeatable HOST:PORT. */
  | 'host-port-list'
  /** Repeatable KEY=VALUE. */
  | 'env-list'
  /** Repeatable text, each value checked against `pattern`. */
  | 'string-list'

export type OptionGroup = 'proxy' | 'https' | 'containers' | 'autoscaling' | 'health' | 'admin' | 'misc'

/** Defaults computed from other options or from the machine, at load time (see load.ts). */
export type DerivedDefault = 'service' | 'health-timeout' | 'threads' | 'max-connections'

export interface OptionDef {
  /** Kebab-case name: `--base-scale-count`, `base-scale-count:` or `base_scale_count:` in a file. */
  readonly flag: string
  /** The Config field, or null for options that steer loading itself (`--config`). */
  readonly key: keyof Config | null
  readonly kind: OptionKind
  readonly group: OptionGroup
  /** As the user would write it; null = unset; `{ derived }` = computed at load time. */
  readonly default: string | number | boolean | null | readonly string[] | { readonly derived: DerivedDefault, readonly text: string }
  /** One line for --help and docs/options.md. */
  readonly help: string
  /** Placeholder in help (`IMAGE`); defaults per kind. */
  readonly metavar?: string
  /** Inclusive bounds: plain numbers, milliseconds for durations, bytes for sizes. */
  readonly min?: number
  readonly max?: number
  /** Durations only: 0 is meaningful (e.g. "do not wait"). */
  readonly allowZero?: boolean
  /** Ports only: 0 asks the OS for a free port. */
  readonly allowEphemeral?: boolean
  /** Enum choices. */
  readonly values?: readonly string[]
  /** Extra check for strings, with the wording of what is expected. */
  readonly pattern?: { readonly re: RegExp, readonly expected: string }
}

/** An option with the names derived from its flag. */
export interface OptionSpec extends OptionDef {
  /** `SYMPHONY_BASE_SCALE_COUNT` */
  readonly env: string
  /** `base_scale_count`, the spelling of the original project's config files. */
  readonly snake: string
}

const NO_SPACES = { re: /^\S+$/, expected: 'a value without spaces' }

const DEFS: readonly OptionDef[] = [
  // proxy
  { flag: 'port', key: 'port', kind: 'port', group: 'proxy', default: 8080, allowEphemeral: true, help: 'Public port of the gateway (0 = any free port)' },
  { flag: 'host', key: 'host', kind: 'host', group: 'proxy', default: '0.0.0.0', help: 'Address the gateway listens on' },
  { flag: 'threads', key: 'threads', kind: 'int', group: 'proxy', default: { derived: 'threads', text: `CPU count, at most ${MAX_WORKERS}` }, min: 1, max: MAX_WORKERS, help: 'Proxy worker threads' },
  { flag: 'backend', key: 'backends', kind: 'host-port-list', group: 'proxy', default: [], help: `Proxy these fixed backends instead of running --image (repeatable, at most ${MAX_BACKENDS})` },
  { flag: 'connect-timeout', key: 'connectTimeoutMs', kind: 'duration', group: 'proxy', default: '5s', help: 'Time allowed to connect to a backend' },
  { flag: 'response-timeout', key: 'responseTimeoutMs', kind: 'duration', group: 'proxy', default: '60s', help: 'Time allowed for response headers, and between body chunks' },
  { flag: 'max-body-size', key: 'maxBodySize', kind: 'size', group: 'proxy', default: '1gb', min: 1, help: 'Largest request body accepted (413 above)' },
  { flag: 'queue-timeout', key: 'queueTimeoutMs', kind: 'duration', group: 'proxy', default: '10s', allowZero: true, help: 'How long a request waits for a healthy backend when none is (0 = answer 503 at once)' },
  { flag: 'queue-limit', key: 'queueLimit', kind: 'int', group: 'proxy', default: 1000, min: 0, max: 1_000_000, help: 'Requests each proxy thread holds while no backend is healthy; more get 503' },
  { flag: 'max-header-size', key: 'maxHeaderSize', kind: 'size', group: 'proxy', default: '16kb', min: 1024, max: 48 * 1024, help: 'Largest request head (request line and headers) accepted (431 above); uWS itself refuses heads past about 50 KB' },
  { flag: 'replay-body-limit', key: 'replayBodyLimit', kind: 'size', group: 'proxy', default: '64kb', min: 0, max: 16 * 1024 * 1024, help: 'Request bodies up to this size are kept so the request can be held or retried; larger ones stream' },
  { flag: 'max-connections', key: 'maxConnections', kind: 'int', group: 'proxy', default: { derived: 'max-connections', text: 'half of (open-file limit - 256 - 8 per thread)' }, min: 0, max: 2 ** 30, help: 'Client connections at which new ones are refused until the count is back at 90 % (0 = no limit); checked every 250 ms' },
  { flag: 'drain-timeout', key: 'drainTimeoutMs', kind: 'duration', group: 'proxy', default: '30s', allowZero: true, help: 'On shutdown, time given to in-flight requests (0 = do not wait)' },

  // https (docs/https.md, docs/https.md)
  { flag: 'tls-cert', key: 'tlsCerts', kind: 'string-list', group: 'https', default: [], metavar: 'FILE', help: 'PEM certificate (chain) file: --port then serves HTTPS. Repeatable, paired in order with --tls-key; the first pair is the default for clients without SNI, the others are chosen by the names in their certificates' },
  { flag: 'tls-key', key: 'tlsKeys', kind: 'string-list', group: 'https', default: [], metavar: 'FILE', help: 'PEM private key file of the --tls-cert at the same position (repeatable)' },
  { flag: 'http-port', key: 'httpPort', kind: 'port', group: 'https', default: null, allowEphemeral: true, help: 'Plain-HTTP port that answers every request with a 308 redirect to HTTPS (path and query kept; 0 = any free port), and ACME\'s HTTP-01 challenges; needs --tls-cert or --acme-domain' },
  { flag: 'acme-domain', key: 'acmeDomains', kind: 'string-list', group: 'https', default: [], metavar: 'NAME', pattern: { re: /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/, expected: 'a DNS name such as api.example.com (no wildcard: HTTP-01 cannot validate one)' }, help: 'Get and renew a certificate for NAME from an ACME CA (Let\'s Encrypt by default) over HTTP-01 on --http-port, which must be reachable as port 80 of NAME (repeatable; docs/https.md)' },
  { flag: 'acme-email', key: 'acmeEmail', kind: 'string', group: 'https', default: null, metavar: 'EMAIL', pattern: { re: /^[^@\s]+@[^@\s]+\.[^@\s]+$/, expected: 'an e-mail address' }, help: 'Contact address of the ACME account (the CA\'s expiry notices)' },
  { flag: 'acme-directory', key: 'acmeDirectory', kind: 'string', group: 'https', default: 'https://acme-v02.api.letsencrypt.org/directory', metavar: 'URL', pattern: { re: /^https:\/\/[^\s/]+(\/\S*)?$/, expected: 'an https:// URL of an ACME directory' }, help: 'ACME directory of the CA (Let\'s Encrypt\'s staging: https://acme-staging-v02.api.letsencrypt.org/directory)' },
  { flag: 'acme-ca-file', key: 'acmeCaFile', kind: 'path', group: 'https', default: null, metavar: 'FILE', help: 'PEM CA certificate to trust for the ACME directory\'s HTTPS besides the system\'s (a private or test CA such as pebble)' },
  { flag: 'state-dir', key: 'stateDir', kind: 'path', group: 'https', default: '/var/lib/symphony', metavar: 'DIR', help: 'Where ACME keeps its account, keys and certificates (created 0700; keep it across restarts, e.g. a volume)' },

  // containers
  { flag: 'image', key: 'image', kind: 'string', group: 'containers', default: null, metavar: 'IMAGE', pattern: NO_SPACES, help: 'Docker image of the service to run and scale' },
  { flag: 'service', key: 'service', kind: 'string', group: 'containers', default: { derived: 'service', text: 'from --image; "static" with --backend' }, metavar: 'NAME', pattern: { re: /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, expected: 'lowercase letters, digits and -, at most 63 characters' }, help: 'Service name used in container names and labels' },
  { flag: 'runtime', key: 'runtime', kind: 'enum', group: 'containers', default: 'docker', values: ['docker', 'process', 'swarm'], help: 'Run replicas as Docker containers, local processes, or Swarm services across a cluster (docs/past-one-host.md)' },
  { flag: 'command', key: 'command', kind: 'string', group: 'containers', default: null, metavar: 'CMD', help: 'Command line of a replica; required with --runtime process' },
  { flag: 'container-port', key: 'containerPort', kind: 'port', group: 'containers', default: 80, help: 'Port the service listens on inside its container' },
  { flag: 'base-port', key: 'basePort', kind: 'port', group: 'containers', default: 8000, help: 'First host port of the replicas, which take max-containers ports' },
  { flag: 'upstream', key: 'upstream', kind: 'enum', group: 'containers', default: 'auto', values: ['auto', 'direct', 'published'], help: 'How the proxy reaches containers: direct to their address on their network, the published host port, or auto (direct when reachable, checked at start)' },
  { flag: 'publish-host', key: 'publishHost', kind: 'host', group: 'containers', default: '127.0.0.1', help: 'Host address replica ports are published on' },
  { flag: 'env', key: 'env', kind: 'env-list', group: 'containers', default: [], help: 'Environment variable for every replica (repeatable)' },
  { flag: 'network', key: 'network', kind: 'string', group: 'containers', default: null, metavar: 'NAME', pattern: NO_SPACES, help: 'Docker network to attach containers to; with --runtime swarm, the overlay symphony reaches its replicas on (required)' },
  { flag: 'constraint', key: 'constraints', kind: 'string-list', group: 'containers', default: [], metavar: 'EXPR', pattern: { re: /^(node|engine)\.[A-Za-z0-9_.-]+\s*(==|!=)\s*\S+$/, expected: 'a Swarm placement constraint such as node.role==worker or node.labels.zone!=eu' }, help: 'Swarm placement constraint of every replica, as docker service create --constraint (repeatable; --runtime swarm)' },
  { flag: 'placement-pref', key: 'placementPrefs', kind: 'string-list', group: 'containers', default: [], metavar: 'PREF', pattern: { re: /^spread=(node|engine)\.labels\.[A-Za-z0-9_.-]+$/, expected: 'spread=node.labels.LABEL' }, help: 'Swarm placement preference, as docker service create --placement-pref (repeatable; --runtime swarm)' },
  { flag: 'memory', key: 'memory', kind: 'size', group: 'containers', default: 0, help: 'Memory limit per container (0 = none; else at least 6mb)' },
  { flag: 'cpus', key: 'cpus', kind: 'number', group: 'containers', default: 0, min: 0, max: 1024, help: 'CPU limit per container, fractions allowed (0 = none)' },
  { flag: 'cleanup-on-exit', key: 'cleanupOnExit', kind: 'bool', group: 'containers', default: false, help: 'Remove the replicas on shutdown (containers, or Swarm services); without it the next start adopts them. The process runtime always removes its processes' },
  { flag: 'takeover', key: 'takeover', kind: 'bool', group: 'containers', default: false, help: 'Take the service over from the symphony that controls it (same --service and --port, another --admin-port): it hands over its lease and request window and drains once this one serves (docs/reliability.md#takeover)' },

  // rollouts (docs/deploy.md)
  { flag: 'rollout-surge', key: 'rolloutSurge', kind: 'int', group: 'containers', default: 1, min: 1, max: MAX_BACKENDS, help: 'Rollouts: new replicas started at once, each before an old one is drained (docs/deploy.md)' },
  { flag: 'rollout-pace', key: 'rolloutPaceMs', kind: 'duration', group: 'containers', default: '0s', allowZero: true, help: 'Rollouts: wait after a new replica turned healthy before starting the next' },
  { flag: 'rollout-deadline', key: 'rolloutDeadlineMs', kind: 'duration', group: 'containers', default: '30s', min: 1000, help: 'Rollouts: a new replica not healthy this long after its start rolls the rollout back' },

  // autoscaling
  { flag: 'window', key: 'windowMs', kind: 'duration', group: 'autoscaling', default: '120s', help: 'Sliding window over which requests are counted' },
  { flag: 'base-scale-count', key: 'baseScaleCount', kind: 'int', group: 'autoscaling', default: 20, min: 1, help: 'Requests per window that one replica absorbs' },
  { flag: 'min-containers', key: 'minContainers', kind: 'int', group: 'autoscaling', default: 1, min: 1, max: MAX_BACKENDS, help: 'Fewest replicas kept running' },
  { flag: 'max-containers', key: 'maxContainers', kind: 'int', group: 'autoscaling', default: 10, min: 1, max: MAX_BACKENDS, help: `Most replicas run at once (at most ${MAX_BACKENDS}, the slots of the backend table)` },

  // health
  { flag: 'fault-interval', key: 'faultIntervalMs', kind: 'duration', group: 'health', default: '1s', min: 10, help: 'Time between health checks of each replica' },
  { flag: 'health-path', key: 'healthPath', kind: 'string', group: 'health', default: '/api/v1/_health', metavar: 'PATH', pattern: { re: /^\/\S*$/, expected: "a path starting with '/', without spaces" }, help: 'Path probed by health checks' },
  { flag: 'health-timeout', key: 'healthTimeoutMs', kind: 'duration', group: 'health', default: { derived: 'health-timeout', text: '80% of --fault-interval' }, help: 'Time allowed for a health check; below --fault-interval' },
  { flag: 'unhealthy-threshold', key: 'unhealthyThreshold', kind: 'int', group: 'health', default: 3, min: 1, max: 100, help: 'Health-check timeouts in a row before a replica is replaced (a fixed backend taken out); a non-200 answer, a refused connection or an exit acts at once' },

  // admin
  { flag: 'admin-host', key: 'adminHost', kind: 'host', group: 'admin', default: '127.0.0.1', help: 'Address of /metrics, /status, /healthz, /readyz' },
  { flag: 'admin-port', key: 'adminPort', kind: 'port', group: 'admin', default: 9180, allowEphemeral: true, help: 'Port of the admin listener (0 = any free port)' },
  { flag: 'admin-token', key: 'adminToken', kind: 'string', group: 'admin', default: null, metavar: 'TOKEN', pattern: { re: /^[\x21-\x7e]{16,}$/, expected: 'at least 16 printable characters without spaces' }, help: 'Bearer token the admin API requires; mandatory when --admin-host is not a loopback address' },

  // misc
  { flag: 'config', key: null, kind: 'path', group: 'misc', default: null, help: 'Read options from a JSON or YAML file' },
  { flag: 'log-level', key: 'logLevel', kind: 'enum', group: 'misc', default: 'info', values: ['debug', 'info', 'warn', 'error'], help: 'Least severe log level printed' },
  { flag: 'log-format', key: 'logFormat', kind: 'enum', group: 'misc', default: 'auto', values: ['auto', 'json', 'pretty'], help: 'Log lines: json (one object per line), pretty (one readable line per event), or auto: pretty on a terminal, json otherwise' },
  { flag: 'access-log', key: 'accessLog', kind: 'path', group: 'misc', default: null, metavar: 'FILE', help: 'Write one line per finished request to FILE (appended; reopened on SIGHUP or when moved), or to stdout with - (docs/logs.md)' },
  { flag: 'access-log-format', key: 'accessLogFormat', kind: 'enum', group: 'misc', default: 'json', values: ['json', 'common'], help: 'Access log lines: json (one object per line) or common (the Common Log Format with symphony\'s fields appended)' }
]

/** `base-scale-count` → `SYMPHONY_BASE_SCALE_COUNT`. */
export function envName (flag: string): string {
  return `SYMPHONY_${flag.toUpperCase().replace(/-/g, '_')}`
}

/** Every option, in help order. */
export const OPTIONS: readonly OptionSpec[] = Object.freeze(DEFS.map(def => Object.freeze({
  ...def,
  env: envName(def.flag),
  snake: def.flag.replace(/-/g, '_')
})))

const BY_FLAG: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map(o => [o.flag, o]))

/** The option named `flag` (kebab-case, without dashes), if any. */
export function optionByFlag (flag: string): OptionSpec | undefined {
  return BY_FLAG.get(flag)
}

/** Whether a default is computed at load time rather than written in the table. */
export function isDerived (d: OptionDef['default']): d is { readonly derived: DerivedDefault, readonly text: string } {
  return d !== null && typeof d === 'object' && 'derived' in d
}

/** Options that may be given more than once (their values accumulate). */
export function isRepeatable (option: OptionDef): boolean {
  return option.kind === 'host-port-list' || option.kind === 'env-list' || option.kind === 'string-list'
}

/** Group titles, in help order. */
export const GROUPS: ReadonlyArray<readonly [OptionGroup, string]> = [
  ['proxy', 'Proxy'],
  ['https', 'HTTPS'],
  ['containers', 'Containers'],
  ['autoscaling', 'Autoscaling'],
  ['health', 'Health checks'],
  ['admin', 'Admin'],
  ['misc', 'Miscellaneous']
]
