/**
 * What no single value can tell: derived defaults (service name, health timeout, threads) and
 * the rules between options. Messages name each option as the user wrote it, with its value.
 */
import { basename } from 'node:path'
import { ConfigError } from '../errors'
import { MAX_BACKENDS, MAX_HOST_BYTES, MAX_WORKERS } from '../table/layout'
import { formatDuration, formatSize, show } from './parse-values'
import type { Config } from './types'
import { checkAcme } from './acme'

/** Where a value came from: its spelling for messages, and whether it is only the default. */
export interface Origin {
  readonly where: string
  readonly isDefault: boolean
}

/** What the derived defaults depend on. */
export interface MachineFacts {
  readonly cpus: number
  /** This process's open-file limit (soft RLIMIT_NOFILE), or null where it cannot be read. */
  readonly nofile: number | null
}

/** Docker refuses memory limits below 6 MiB. */
const DOCKER_MIN_MEMORY = 6 * 1024 * 1024
const WILDCARDS = new Set(['0.0.0.0', '::'])
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/**
 * Fills the derived defaults and applies the cross-field rules to parsed `values` (one per
 * Config field, derived ones absent unless given).
 * @throws ConfigError
 */
export function checkConfig (values: Record<string, unknown>, origins: ReadonlyMap<keyof Config, Origin>, facts: MachineFacts): Config {
  const c = values as { -readonly [K in keyof Config]: Config[K] }
  const name = (key: keyof Config): string => origins.get(key)?.where ?? key
  const given = (key: keyof Config): boolean => origins.get(key)?.isDefault === false
  const show = (key: keyof Config): string => {
    const v = c[key]
    const text = key.endsWith('Ms') ? formatDuration(v as number) : key === 'memory' ? formatSize(v as number) : String(v)
    return `${name(key)} (${given(key) ? '' : 'default '}${text})`
  }

  const hasBackends = c.backends.length > 0
  if (c.runtime === 'process') {
    if (hasBackends) throw new ConfigError(`${name('runtime')} process starts local replicas; it cannot be combined with ${name('backends')} (fixed backends)`)
    if (c.command === null) throw new ConfigError(`${name('runtime')} process needs --command CMD, the command line that starts one replica`)
  } else if (c.runtime === 'swarm') {
    if (hasBackends) throw new ConfigError(`${name('runtime')} swarm runs --image as Swarm services; it cannot be combined with ${name('backends')} (fixed backends)`)
    if (c.image === null) throw new ConfigError(`${name('runtime')} swarm needs --image IMAGE, the image of the replicas`)
    if (c.network === null) throw new ConfigError(`${name('runtime')} swarm needs --network NAME, an attachable overlay network that symphony itself is attached to (docker network create -d overlay --attachable NAME)`)
  } else if (hasBackends && c.image !== null) {
    throw new ConfigError(`${name('image')} and ${name('backends')} exclude each other: --image runs and autoscales containers, --backend proxies fixed backends; choose one`)
  } else if (!hasBackends && c.image === null) {
    throw new ConfigError('nothing to proxy: give --image IMAGE to run and autoscale containers, or --backend HOST:PORT (repeatable) to proxy fixed backends')
  }

  if (c.runtime !== 'swarm') {
    for (const key of ['constraints', 'placementPrefs'] as const) {
      if (c[key].length > 0) throw new ConfigError(`${name(key)} places Swarm services; it needs --runtime swarm (${name('runtime')} is ${c.runtime})`)
    }
  }

  if (c.service === undefined) c.service = defaultService(c)
  if (c.healthTimeoutMs === undefined) c.healthTimeoutMs = Math.floor(c.faultIntervalMs * 0.8)
  if (c.threads === undefined) c.threads = Math.min(MAX_WORKERS, Math.max(1, facts.cpus))
  if (c.maxConnections === undefined) c.maxConnections = facts.nofile === null ? 0 : defaultMaxConnections(facts.nofile, c.threads)

  // Swarm service names (`<service>-<slot>`) are at most 63 characters; slots reach 3 digits.
  if (c.runtime === 'swarm' && c.service.length > 59) {
    throw new ConfigError(`${show('service')} is too long for --runtime swarm, whose service names are <service>-<slot>: at most 59 characters`)
  }
  if (c.minContainers > c.maxContainers) {
    throw new ConfigError(`${show('minContainers')} must not exceed ${show('maxContainers')}`)
  }
  if (c.healthTimeoutMs >= c.faultIntervalMs) {
    throw new ConfigError(`${show('healthTimeoutMs')} must be shorter than ${show('faultIntervalMs')}`)
  }
  if (facts.nofile !== null && c.maxConnections > facts.nofile) {
    throw new ConfigError(`${show('maxConnections')} is above this process's open-file limit (${facts.nofile}, ulimit -Hn), so it cannot keep the gateway from running out of file descriptors; lower it or raise the limit`)
  }
  if (c.memory !== 0 && c.memory < DOCKER_MIN_MEMORY) {
    throw new ConfigError(`${show('memory')} is below Docker's minimum of 6mb; use 0 for no limit`)
  }
  if (c.adminToken === null && !isLoopback(c.adminHost)) {
    throw new ConfigError(`${show('adminHost')} is not a loopback address, so the admin API would be open to the network; set ${name('adminToken')} (16+ characters) or bind it to 127.0.0.1`)
  }
  if (c.port !== 0 && c.port === c.adminPort && overlap(c.host, c.adminHost)) {
    throw new ConfigError(`${show('port')} and ${show('adminPort')} are the same port on overlapping hosts (${c.host}, ${c.adminHost}); choose different ports`)
  }

  checkTableLimits(c, name)
  checkAcme(c, name, show)
  checkTls(c, name, show)

  // Swarm replicas publish no host port: the host-port range rules do not apply.
  if (!hasBackends && c.runtime !== 'swarm') {
    const last = c.basePort + c.maxContainers - 1
    if (last > 65535) {
      throw new ConfigError(`${show('basePort')} + ${show('maxContainers')} - 1 = ${last} is above 65535; lower one of them`)
    }
    // Replicas publish base-port..last on publish-host; a listener inside that range would make
    // one replica fail to start (EADDRINUSE) long after start-up.
    for (const [port, host] of [['port', 'host'], ['adminPort', 'adminHost']] as const) {
      if (c[port] >= c.basePort && c[port] <= last && overlap(c[host], c.publishHost)) {
        throw new ConfigError(`${show(port)} lies in the replica port range ${c.basePort}-${last} (${name('basePort')}, ${name('maxContainers')}); move one of them`)
      }
    }
  }
  return c
}

/**
 * The shared backend table is sized at build time (src/table/layout.ts): a configuration that
 * would not fit must stop here with the option's name, not later in the table writer as an
 * internal error. --threads and --max-containers are bounded by their schema range (MAX_WORKERS,
 * MAX_BACKENDS); what a range cannot express is checked here.
 */
function checkTableLimits (c: Config, name: (key: keyof Config) => string): void {
  if (c.backends.length > MAX_BACKENDS) {
    throw new ConfigError(`${name('backends')}: ${c.backends.length} backends given; the backend table holds at most ${MAX_BACKENDS}`)
  }
  const tooLong = (host: string): boolean => Buffer.byteLength(host) > MAX_HOST_BYTES
  const long = c.backends.find((b) => tooLong(b.host))
  if (long !== undefined) {
    throw new ConfigError(`${name('backends')}: host ${show(long.host)} is ${Buffer.byteLength(long.host)} bytes long; a backend table slot holds at most ${MAX_HOST_BYTES}; use a shorter name or the address`)
  }
  // Container replicas are dialled at --publish-host (process replicas at 127.0.0.1).
  if (c.runtime === 'docker' && c.image !== null && tooLong(c.publishHost)) {
    throw new ConfigError(`${name('publishHost')}: ${show(c.publishHost)} is ${Buffer.byteLength(c.publishHost)} bytes long; a backend table slot holds at most ${MAX_HOST_BYTES}; use a shorter name or the address`)
  }
}

/** --tls-cert and --tls-key go in pairs; --http-port redirects to HTTPS, so it needs it. */
function checkTls (c: Config, name: (key: keyof Config) => string, show: (key: keyof Config) => string): void {
  if (c.tlsCerts.length !== c.tlsKeys.length) {
    const [more, fewer] = c.tlsCerts.length > c.tlsKeys.length ? ['tlsCerts', 'tlsKeys'] as const : ['tlsKeys', 'tlsCerts'] as const
    throw new ConfigError(`${name(more)} given ${c[more].length} time(s) but ${name(fewer)} ${c[fewer].length}: each certificate needs its key, paired in the order given`)
  }
  if (c.httpPort === null) return
  if (c.tlsCerts.length === 0 && c.acmeDomains.length === 0) {
    throw new ConfigError(`${show('httpPort')} redirects to HTTPS, which needs --tls-cert FILE and --tls-key FILE, or --acme-domain NAME; drop it or add them`)
  }
  if (c.httpPort !== 0 && c.httpPort === c.port && c.port !== 0) {
    throw new ConfigError(`${show('httpPort')} is the HTTPS port ${show('port')}; choose different ports`)
  }
  if (c.httpPort !== 0 && c.httpPort === c.adminPort && overlap(c.host, c.adminHost)) {
    throw new ConfigError(`${show('httpPort')} and ${show('adminPort')} are the same port on overlapping hosts; choose different ports`)
  }
}

/**
 * The default --max-connections for an open-file limit. A client connection can hold one
 * upstream connection while its request is in flight, so a full gateway needs about two file
 * descriptors per client, plus Node's own (about 20, and 5 per worker thread: 31 measured with 2
 * threads, 341 with 64), health probes, the Docker socket and admin clients: 256 + 8 per thread
 * are reserved and clients get half of the rest. Past the limit, accept() would fail with EMFILE
 * and uSockets would retry it in a busy loop.
 */
export function defaultMaxConnections (nofile: number, threads: number): number {
  return Math.max(1, Math.floor((nofile - 256 - 8 * threads) / 2))
}

/** Whether two listen addresses can collide on one port (conservatively: wildcards overlap all). */
function overlap (a: string, b: string): boolean {
  return a === b || WILDCARDS.has(a) || WILDCARDS.has(b) || (LOOPBACK.has(a) && LOOPBACK.has(b))
}

function defaultService (c: Config): string {
  if (c.backends.length > 0) return 'static'
  const from = c.image ?? basename((c.command ?? '').trim().split(/\s+/)[0])
  const service = serviceFromImage(from)
  if (service === '') {
    throw new ConfigError(`cannot derive a service name from ${JSON.stringify(from)}; give --service NAME (lowercase letters, digits and -)`)
  }
  return service
}

/**
 * The default service name of an image: its last path segment without tag or digest, lowercased,
 * other characters turned into `-` (`ghcr.io/acme/My_API:1.2@sha256:…` → `my-api`).
 */
export function serviceFromImage (image: string): string {
  const path = image.split('@')[0]
  // The tag follows the last '/', so a registry port (`host:5000/app`) is not mistaken for one.
  const segment = path.slice(path.lastIndexOf('/') + 1).split(':')[0]
  return segment.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 63).replace(/^-+|-+$/g, '')
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine can reach. */
function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}
