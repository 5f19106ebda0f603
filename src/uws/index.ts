/**
 * uWebSockets.js for the proxy threads (and test backends): the native build chosen and loaded
 * by load.ts, at import. The main thread calls loadUws() itself before it starts any thread
 * (src/cli.ts), so a host where no build loads is refused there, with one line and exit 7.
 */
import { loadUws, type Uws, type UwsRuntime } from './load'
import { limitReceiveBuffer, type ReceiveBufferOutcome } from './receive-buffer'

const loaded = loadUws()

/** The uWS API of the loaded native build. */
export const uWS: Uws = loaded.uws
/** Which build it is and what it can do. */
export const uwsRuntime: UwsRuntime = loaded.runtime
export type { Uws, UwsRuntime, ReceiveBufferOutcome }

/**
 * What a listen socket on `port` needs, once listening, for `res.pause()` to hold on the loaded
 * build: on one that reads past a pause, a receive buffer below its read size (receive-buffer.ts);
 * on another, nothing (null). Chosen once, here.
 */
export const holdPauses: (port: number) => Promise<ReceiveBufferOutcome | null> = uwsRuntime.readsPastPause
  ? (port) => limitReceiveBuffer(port)
  : async () => null
