import type { Config } from '../config/types'
import { stateNames } from '../table/layout'
import type { TableWriter } from '../table/writer'

/** The `GET /status` document: what the gateway routes to right now. */
export function statusDocument (table: TableWriter, config: Config): unknown {
  return {
    mode: config.image !== null ? 'docker' : 'static',
    backends: table.slots().map((v) => ({
      slot: v.slot,
      host: v.host,
      port: v.port,
      state: stateNames[v.state],
      suspect: table.isSuspect(v.slot),
      inflight: table.inflight(v.slot)
    }))
  }
}
