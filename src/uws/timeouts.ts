/**
 * The HTTP time limits of every uWS App a proxy thread serves from: 10 s, on every build, because
 * the rest of the gateway is built around them (src/worker/slow-body.ts answers 408 before uWS
 * would close a slow body; docs/limits.md "Connections, sizes and time").
 *
 * uWS 20.30 fixes them at 10 s (HTTP_IDLE_TIMEOUT_S in its HttpContext.h). The 20.57 build makes
 * them App settings instead, 30 s each unless set: `setIdleTimeout(s)` bounds the time to send a
 * head, a connection that sends nothing, and a body that sends less than 16 KiB/s (re-armed by
 * every 160 KiB); `setResponseTimeout(s)` bounds an idle keep-alive connection after an answer.
 * Neither closes a connection whose request is still waiting for its answer
 * (scripts/uws-probe.js measures all of it on a bare App: bench/results/uws-probe.md).
 *
 * In the 20.57 binary each setter only stores the number in the App's HTTP context (the field its
 * getter reads; a no-op once the App is closed): no timer, handle or allocation, nothing that
 * outlives the App or touches the thread's start and exit. They are called as the App is made,
 * before it listens, so every connection it accepts has them.
 */
import { uwsRuntime, type UwsRuntime } from './index'

/** The gateway's HTTP timeout, in seconds: closes come 8-12 s in (uSockets sweeps every 4 s). */
export const HTTP_TIMEOUT_S = 10

/** What the 20.57 build adds to an App (missing from the typings, which are 20.30's). */
export interface SettableTimeouts {
  setIdleTimeout: (seconds: number) => unknown
  setResponseTimeout: (seconds: number) => unknown
  getIdleTimeout: () => number
  getResponseTimeout: () => number
}

/** Gives `app` the gateway's HTTP time limits where the build lets them be set; returns `app`. */
export function withHttpTimeouts<A extends object> (app: A, runtime: UwsRuntime = uwsRuntime): A {
  if (!runtime.settableTimeouts) return app
  const settable = app as unknown as SettableTimeouts
  settable.setIdleTimeout(HTTP_TIMEOUT_S)
  settable.setResponseTimeout(HTTP_TIMEOUT_S)
  return app
}
