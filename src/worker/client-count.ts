/**
 * The thread's client connections, counted by uWS itself where the build has `app.filter` (a
 * hook per connection opened and closed, uWS.js >= 20.40): the count is a word of the shared
 * table (W_CLIENT_CONNECTIONS), which the main thread sums over the threads
 * (src/gateway/thread-connections.ts) instead of reading the kernel's socket tables. On a build
 * without the hook nothing is attached and the word stays 0.
 */
import type { TemplatedApp } from 'uWebSockets.js'
import { W_CLIENT_CONNECTIONS } from '../table/layout'
import { uwsRuntime, type UwsRuntime } from '../uws'

/** What the 20.57 build adds to an App (missing from the typings, which are 20.30's). */
interface Filterable {
  filter: (handler: (res: unknown, delta: number) => void) => unknown
}

/** A thread that starts has no connections: its predecessor's, if any, ended with it. */
export function resetClientCount (i32: Int32Array, wbase: number): void {
  Atomics.store(i32, wbase + W_CLIENT_CONNECTIONS, 0)
}

/**
 * Counts `app`'s connections in the thread's word, where the build can. Each App (a certificate
 * reload makes a new one while the old one still serves its connections) counts its own.
 */
export function countClientConnections (app: TemplatedApp, i32: Int32Array, wbase: number, runtime: UwsRuntime = uwsRuntime): void {
  if (!runtime.filter) return
  const at = wbase + W_CLIENT_CONNECTIONS
  // uWS calls it with +1 when a connection opens and -1 when it closes; the handle it passes
  // is left alone (it is not the request's res, and a request may still use the socket).
  const filterable = app as unknown as Filterable
  // eslint-disable-next-line array-callback-return -- uWS's App.filter, not Array's
  filterable.filter((_res, delta) => { Atomics.add(i32, at, delta) })
}
