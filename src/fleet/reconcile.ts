/**
 * What to do when the runtime's list of replicas and the fleet's own view disagree: at start-up
 * (adoption) and after a reconnect to the engine (events may have been missed). Pure: the fleet
 * turns the actions into runtime calls, so every rule below is a row in a table-driven test.
 */
import type { Replica } from '../runtime/types'

/** Lifecycle of one host port's member (see ContainerFleet). */
export type Phase =
  /** runtime.start() in flight: the replica's id is not known yet. */
  | 'launching'
  /** Started (or adopted), out of rotation until its first 200. */
  | 'starting'
  /** Healthy, in rotation. */
  | 'ready'
  /** Failed: its replica is being stopped and removed, a new one follows on the same port. */
  | 'stopping'
  /** Waiting for a backoff or a retry before the next stop or start on this port. */
  | 'waiting'
  /** Leaving (scale-down): out of rotation, in-flight requests finishing, then stop. */
  | 'draining'
  /** Leaving, but its stop failed: retried on the next tick. */
  | 'removing'

/** The fields of a member the plan needs. */
export interface MemberSnapshot {
  readonly port: number
  readonly phase: Phase
  /** Id of the replica the member holds (its current one, or the old one being stopped). */
  readonly replicaId: string | null
  /** Epoch ms the member learned its replica's id. */
  readonly knownSince: number
}

export type ReconcileAction =
  /** The member's replica is gone or dead: replace it on the same port. */
  | { readonly kind: 'lost', readonly port: number, readonly reason: 'missing' | 'exited' }
  /** A running replica on a port nobody holds: take it over (in rotation after its first 200). */
  | { readonly kind: 'adopt', readonly replica: Replica }
  /** A running replica on the port of a member waiting to start one: it is that start (its answer was lost). */
  | { readonly kind: 'attach', readonly port: number, readonly replica: Replica }
  /** A replica nobody should keep. */
  | { readonly kind: 'remove', readonly replica: Replica, readonly why: 'duplicate' | 'outside-range' | 'exited' }

/**
 * Compare `listed` (asked for at `listedAt`) with the members.
 *
 * - A member is judged only on replicas it knew before the list was asked for: one learned
 *   while the request was in flight may be missing from the answer without being gone.
 * - An unknown replica on a port whose start is in flight is left alone (it may be that start).
 * - One replica per port: any other is a duplicate and is removed; adoption never doubles a port.
 *   "Port" is the member's key (Replica.key): the host port with docker and process, base port +
 *   slot with swarm, whose replicas' own addresses all share the container port.
 */
export function planReconcile (
  members: readonly MemberSnapshot[],
  listed: readonly Replica[],
  listedAt: number,
  inRange: (port: number) => boolean
): ReconcileAction[] {
  const actions: ReconcileAction[] = []
  const byId = new Map(listed.map((r) => [r.id, r]))
  const byPort = new Map(members.map((m) => [m.port, m]))
  const known = new Set<string>()
  for (const m of members) {
    if (m.replicaId === null) continue
    known.add(m.replicaId)
    if ((m.phase !== 'starting' && m.phase !== 'ready') || m.knownSince >= listedAt) continue
    const r = byId.get(m.replicaId)
    if (r === undefined) actions.push({ kind: 'lost', port: m.port, reason: 'missing' })
    else if (!r.running) actions.push({ kind: 'lost', port: m.port, reason: 'exited' })
  }
  const taken = new Set<number>()
  for (const r of listed) {
    if (known.has(r.id)) continue
    const m = byPort.get(r.key)
    if (m?.phase === 'launching') continue
    if (!r.running) {
      actions.push({ kind: 'remove', replica: r, why: 'exited' })
    } else if (m !== undefined) {
      if (m.phase === 'waiting' && m.replicaId === null && !taken.has(r.key)) {
        taken.add(r.key)
        actions.push({ kind: 'attach', port: r.key, replica: r })
      } else {
        actions.push({ kind: 'remove', replica: r, why: 'duplicate' })
      }
    } else if (!inRange(r.key)) {
      actions.push({ kind: 'remove', replica: r, why: 'outside-range' })
    } else if (taken.has(r.key)) {
      actions.push({ kind: 'remove', replica: r, why: 'duplicate' })
    } else {
      taken.add(r.key)
      actions.push({ kind: 'adopt', replica: r })
    }
  }
  return actions
}
