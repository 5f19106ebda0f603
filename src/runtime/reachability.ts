import net from 'node:net'

/** The answer of a reachability probe, with the reason for logs. */
export interface Reachability {
  readonly reachable: boolean
  /** `connected`, `refused`, `timeout after N ms`, or the socket error code (EHOSTUNREACH, …). */
  readonly reason: string
}

/**
 * Whether a failed connect still proves the address is reachable. A refusal (RST) comes from the
 * peer's own kernel: the address is routable from here even though nothing listens yet (a
 * container whose app is still booting). Every other failure (no route, host unreachable, a
 * firewall's reject, a timeout) says packets do not get there from this network namespace.
 */
export function reachableDespite (code: string | undefined): boolean {
  return code === 'ECONNREFUSED'
}

/**
 * Open a TCP connection to `host:port` and close it at once; never throws. `timeoutMs` bounds the
 * wait: on Docker Desktop a container's address leads nowhere and SYNs vanish unanswered.
 */
export function probeReachability (host: string, port: number, timeoutMs: number): Promise<Reachability> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (r: Reachability): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(r)
    }
    const timer = setTimeout(() => done({ reachable: false, reason: `timeout after ${timeoutMs} ms` }), timeoutMs)
    socket.once('connect', () => done({ reachable: true, reason: 'connected' }))
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message
      done({ reachable: reachableDespite(err.code), reason: code === 'ECONNREFUSED' ? 'refused' : code })
    })
  })
}
