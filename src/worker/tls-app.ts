/**
 * The thread's serving App: plain uWS.App without TLS, else an SSLApp whose default certificate
 * is the first one and whose other certificates are chosen by SNI. uWS gives each server name its
 * own router, so the request handler is attached to each (`domain(name)`). A server name is only
 * added for names the default certificate does not carry: uWS 20.30 prints a line on stdout for
 * every `domain()` call, so a gateway with one certificate prints nothing.
 *
 * Each App counts its own client connections where the build can (src/worker/client-count.ts).
 *
 * A certificate reload builds a new App (src/worker/listener.ts swaps it in): uWS cannot replace
 * the default certificate of an SSLApp, and removing a server name frees its router while the
 * connections that chose it still route through it.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import type { ServedCertificate } from '../config/types'
import { W_TLS_UNKNOWN_NAME } from '../table/layout'
import { uWS } from '../uws'
import { withHttpTimeouts } from '../uws/timeouts'
import { countClientConnections } from './client-count'
import type { ClosableApp } from './listener'

/** The App for `certificates` (null: plain HTTP), with `handler` for every method and path. */
export function createServingApp (
  certificates: readonly ServedCertificate[] | null,
  handler: (res: HttpResponse, req: HttpRequest) => void,
  i32: Int32Array,
  wbase: number
): ClosableApp {
  if (certificates === null) {
    const plain = withHttpTimeouts(uWS.App()) as ClosableApp
    countClientConnections(plain, i32, wbase)
    return plain.any('/*', handler) as ClosableApp
  }
  const first = certificates[0]
  const app = withHttpTimeouts(uWS.SSLApp(first === undefined ? {} : { cert_file_name: first.certFile, key_file_name: first.keyFile })) as ClosableApp
  countClientConnections(app, i32, wbase)
  app.any('/*', handler)
  const defaults = first?.names ?? []
  const added = new Set<string>(defaults)
  for (let i = 1; i < certificates.length; i++) {
    const c = certificates[i]
    for (const name of c.names) {
      if (added.has(name)) continue // the first certificate with a name serves it
      added.add(name)
      app.addServerName(name, { cert_file_name: c.certFile, key_file_name: c.keyFile })
      app.domain(name).any('/*', handler)
    }
  }
  // Called for every client hello whose name has no server name of its own, the default
  // certificate's names included (they are served without one): only the others are unknown.
  app.missingServerName((hostname: string) => {
    if (!coveredBy(defaults, hostname)) Atomics.add(i32, wbase + W_TLS_UNKNOWN_NAME, 1)
  })
  return app
}

/** Whether `hostname` matches one of `names`, a leading `*.` standing for exactly one label (RFC 6125 6.4.3). */
export function coveredBy (names: readonly string[], hostname: string): boolean {
  const host = hostname.toLowerCase()
  for (const n of names) {
    if (n === host) return true
    if (n.startsWith('*.')) {
      const dot = host.indexOf('.')
      if (dot > 0 && host.slice(dot) === n.slice(1)) return true
    }
  }
  return false
}
