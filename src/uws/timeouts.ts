/**
 * The HTTP timeout of every uWS App the gateway serves from: 10 s, on every build, because the
 * rest of the gateway is built around it (src/worker/slow-body.ts answers 408 before it fires;
 * docs/limits.md "Connections, sizes and time").
 *
 * uWS 20.30 fixes it at 10 s (HTTP_IDLE_TIMEOUT_S in its HttpContext.h). The 20.57 build makes it
 * an App setting instead, 30 s unless set (`app.getIdleTimeout()`): `setIdleTimeout(s)` bounds the
 * time to send a head, a connection that sends nothing, and a body that sends less than 16 KiB/s
 * (re-armed by every 160 KiB); `setResponseTimeout(s)` bounds an idle keep-alive connection after
 * an answer. Neither closes a connection whose request is still waiting for its answer.
 * scripts/uws-probe.js measures all of it on a bare App (bench/results/uws-probe.md).
 */
import { uwsRuntime, type UwsRuntime } from './index'

/** The gateway's HTTP timeout, in seconds: closes come 1-4 s later (uSockets sweeps every 4 s). */
export const HTTP_TIMEOUT_S = 10

/** What the 20.57 build adds to an App (missing from the typings, which are 20.30's). */
interface SettableTimeouts {
  setIdleTimeout: (seconds: number) => unknown
  setResponseTimeout: (seconds: number) => unknown
}

/** Gives `app` the gateway's HTTP timeout where the build lets it be set; returns `app`. */
export function withHttpTimeouts<A extends object> (app: A, runtime: UwsRuntime = uwsRuntime): A {
  if (!runtime.settableTimeouts) return app
  const settable = app as unknown as SettableTimeouts
  settable.setIdleTimeout(HTTP_TIMEOUT_S)
  settable.setResponseTimeout(HTTP_TIMEOUT_S)
  return app
}
