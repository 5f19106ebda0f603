import type { RuntimeKind } from '../config'
import { replicaName } from '../runtime/names'
import { slotServiceName } from '../runtime/swarm-spec'
import type { TableWriter } from '../table/writer'

/** How the replicas of a runtime are named; null for fixed `--backend` targets. */
export interface ReplicaNaming {
  readonly runtime: RuntimeKind
  readonly service: string
  readonly basePort: number
  /** Slots that have ever held a replica (their counters may be non-zero). */
  readonly knownSlots: () => readonly number[]
}

/** The `backend` label of every per-backend series, and the slots that have one. */
export interface BackendLabels {
  /** The slot's label, or null for a slot that never held a backend. */
  readonly label: (slot: number) => string | null
  readonly knownSlots: () => readonly number[]
}

/** `host:port`, with an IPv6 host in brackets as in a URL. */
export function hostPort (host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/**
 * One label per backend, the same in every per-backend series and unique among them: a
 * replica's stable name where the runtime gives one (`symphony-<service>-<host port>` for docker
 * and process replicas, `<service>-<slot>` for Swarm's), else the fixed backend's `host:port`.
 *
 * Not the dialled address: on the direct path every container is dialled on the same container
 * port, and a Swarm task on its overlay address, which changes when the task is replaced. A
 * replica's name depends on its slot only, so its series carry on across replacements.
 */
export function backendLabels (table: TableWriter, replicas: ReplicaNaming | null): BackendLabels {
  if (replicas !== null) {
    const { runtime, service, basePort } = replicas
    return {
      label: runtime === 'swarm'
        ? (slot) => slotServiceName(service, slot)
        : (slot) => replicaName(service, basePort + slot),
      knownSlots: replicas.knownSlots
    }
  }
  // Fixed backends are assigned once, before this runs, and keep their slot for life.
  const fixed = new Map<number, string>()
  for (const v of table.slots()) fixed.set(v.slot, hostPort(v.host, v.port))
  const slots = [...fixed.keys()]
  return { label: (slot) => fixed.get(slot) ?? null, knownSlots: () => slots }
}
