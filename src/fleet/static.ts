import type { StaticBackend } from '../config/types'
import type { HealthTarget, StatusSink } from '../health/checker'
import type { ProbeResult } from '../health/probe'
import type { Logger } from '../log'
import { State } from '../table/layout'
import type { TableWriter } from '../table/writer'

/**
 * Static backends (`--backend HOST:PORT`): placed in slots 0..n-1 at start-up, out of rotation
 * until their first passing health check; a failing check takes one out (a timeout only once
 * --unhealthy-threshold of them came in a row: the checker filters, src/health/threshold.ts), a
 * passing one brings it back. The same rules the container healer applies, minus the restarting.
 */
export class StaticFleet implements StatusSink {
  private readonly list: HealthTarget[] = []

  constructor (backends: readonly StaticBackend[], private readonly table: TableWriter, private readonly log: Logger) {
    backends.forEach((b, slot) => {
      const id = table.assign(slot, b.host, b.port)
      this.list.push({ key: slot, id, host: b.host, port: b.port })
    })
  }

  targets (): readonly HealthTarget[] { return this.list }

  report (target: HealthTarget, result: ProbeResult): void {
    const view = this.table.view(target.key)
    if (view === undefined || view.id !== target.id) return
    if (result.ok) {
      this.table.clearSuspect(target.key)
      if (view.state !== State.HEALTHY) {
        this.table.setState(target.key, State.HEALTHY)
        this.log.info('backend healthy', { backend: `${target.host}:${target.port}` })
      }
    } else if (view.state !== State.UNHEALTHY) {
      this.table.setState(target.key, State.UNHEALTHY)
      this.log.warn('backend unhealthy; out of rotation', { backend: `${target.host}:${target.port}`, reason: result.reason, status: result.status })
    }
  }
}
