/**
 * uWebSockets.js for the proxy threads (and test backends): the native build chosen and loaded
 * by load.ts, at import. The main thread calls loadUws() itself before it starts any thread
 * (src/cli.ts), so a host where no build loads is refused there, with one line and exit 7.
 */
import { loadUws, type Uws, type UwsRuntime } from './load'

const loaded = loadUws()

/** The uWS API of the loaded native build. */
export const uWS: Uws = loaded.uws
/** Which build it is and what it can do. */
export const uwsRuntime: UwsRuntime = loaded.runtime
export type { Uws, UwsRuntime }
