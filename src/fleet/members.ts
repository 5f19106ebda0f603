import type { Replica } from '../runtime/types'
import type { Phase } from './reconcile'

/** One host port's replica and where it is in its life (phases: src/fleet/reconcile.ts). */
export interface Member {
  readonly port: number
  /** Table slot: host port - base port, so the table and /status name backends by port. */
  readonly slot: number
  phase: Phase
  /** The current replica, or the old one while it is being stopped; null before a start returns. */
  replica: Replica | null
  /** Epoch ms the member learned its replica's id (reconciliation judges only older ones). */
  knownSince: number
  /** Id of the slot's table entry (0 while none): the health checker's targets carry it. */
  tableId: number
  /** Start (or adoption) of the current replica: the start deadline counts from here. */
  startedAt: number
  healthySince: number | null
  /** Consecutive failures on this port, for the backoff; wiped after a healthy stretch. */
  failures: number
  /** Epoch ms before which a waiting or removing member is left alone. */
  notBefore: number
  /** The replacement in progress: why, and the id it replaces (for its one log line). */
  replacing: { readonly reason: string, readonly oldId: string } | null
}

export function newMember (port: number, basePort: number, phase: Phase, now: number): Member {
  return {
    port,
    slot: port - basePort,
    phase,
    replica: null,
    knownSince: 0,
    tableId: 0,
    startedAt: now,
    healthySince: null,
    failures: 0,
    notBefore: 0,
    replacing: null
  }
}

/** Members that hold capacity (serving or on their way), as opposed to leaving ones. */
export function holdsCapacity (m: Member): boolean {
  return m.phase !== 'draining' && m.phase !== 'removing'
}
