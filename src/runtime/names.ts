/**
 * Names and labels shared by the runtimes, the CLI's cleanup and the tests, and the pure parts of
 * talking to the engine (addresses, event lines, timestamps), kept here so tests reach them
 * without an engine. Containers are found by label, never by name prefix, so a user's own
 * `symphony-*` containers are never touched.
 */
import type { DockerOptions } from 'dockerode'

/** Label keys on every container symphony creates. */
export const LABEL_MANAGED = 'io.symphony.managed'
export const LABEL_SERVICE = 'io.symphony.service'
export const LABEL_PORT = 'io.symphony.port'

/** `symphony-<service>-<port>`: one replica per host port, so the port makes the name unique. */
export function replicaName (service: string, port: number): string {
  return `symphony-${service}-${port}`
}

/** Labels of the replica on `port`. */
export function replicaLabels (service: string, port: number): Record<string, string> {
  return {
    [LABEL_MANAGED]: 'true',
    [LABEL_SERVICE]: service,
    [LABEL_PORT]: String(port)
  }
}

/** Docker `label` filter values matching every replica of a service. */
export function serviceLabelFilter (service: string): string[] {
  return [`${LABEL_MANAGED}=true`, `${LABEL_SERVICE}=${service}`]
}

/** The host port recorded in a container's labels, or null when absent or malformed. */
export function portFromLabels (labels: Record<string, string> | undefined): number | null {
  const raw = labels?.[LABEL_PORT]
  if (raw === undefined || !/^\d+$/.test(raw)) return null
  const port = Number(raw)
  return port > 0 && port < 65536 ? port : null
}

/**
 * Split a command line on whitespace. Deliberately no shell and no quoting rules: what runs is
 * exactly the words given, as with Docker's exec form.
 */
export function splitCommand (command: string): string[] {
  return command.trim().split(/\s+/).filter((word) => word !== '')
}

/**
 * The address the proxy dials for a port published on `publishHost`: a wildcard bind is
 * reachable on loopback (the network rule: traffic stays on 127.0.0.1).
 */
export function dialHost (publishHost: string): string {
  if (publishHost === '0.0.0.0' || publishHost === '') return '127.0.0.1'
  if (publishHost === '::' || publishHost === '[::]') return '::1'
  return publishHost
}

/**
 * dockerode options for an explicit DOCKER_HOST-style address. Every connection field is set, so
 * that a DOCKER_HOST in the environment (which dockerode merges in underneath) cannot override it.
 */
export function connectionOptions (dockerHost: string | undefined): DockerOptions {
  if (dockerHost === undefined || dockerHost === '') return {}
  if (dockerHost.startsWith('unix://')) {
    return { socketPath: dockerHost.slice('unix://'.length), host: undefined, port: undefined, protocol: undefined }
  }
  const url = new URL(dockerHost.includes('://') ? dockerHost : `tcp://${dockerHost}`)
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`unsupported Docker address ${dockerHost}`)
  }
  return {
    socketPath: undefined,
    host: url.hostname,
    port: url.port === '' ? 2375 : Number(url.port),
    protocol: url.protocol === 'https:' ? 'https' : 'http'
  }
}

/** The fields of an engine event line the runtime uses. */
export interface ParsedEvent {
  readonly id: string
  readonly action: string
  /** From the container's `io.symphony.port` label, carried in the event's attributes. */
  readonly port: number | null
  /** Exact event time; nanoseconds exceed 2^53, hence bigint. */
  readonly timeNano: bigint
}

/** One line of the engine's /events stream, or null when it is not a container event. */
export function parseEvent (line: string): ParsedEvent | null {
  let raw: { Action?: string, status?: string, id?: string, timeNano?: number | string, time?: number, Actor?: { ID?: string, Attributes?: Record<string, string> } }
  try {
    raw = JSON.parse(line)
  } catch {
    return null
  }
  const id = raw.Actor?.ID ?? raw.id
  const action = raw.Action ?? raw.status
  if (id === undefined || action === undefined) return null
  // timeNano exceeds 2^53; JSON.parse has already rounded it, which still orders events, but
  // take the digits from the line itself so that `since` resumes at the exact event.
  const m = /"timeNano":(\d+)/.exec(line)
  const timeNano = m !== null ? BigInt(m[1]) : BigInt(raw.time ?? 0) * 1_000_000_000n
  return { id, action, port: portFromLabels(raw.Actor?.Attributes), timeNano }
}

/** `since` as `seconds.nanoseconds`, the engine's own timestamp syntax. */
export function formatSince (nano: bigint): string {
  const s = nano / 1_000_000_000n
  const ns = nano % 1_000_000_000n
  return `${s}.${ns.toString().padStart(9, '0')}`
}
