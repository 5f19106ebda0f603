/**
 * Keeps `res.pause()` holding on a uWS build that reads past it (UwsRuntime.readsPastPause: uWS
 * 20.57), by holding every proxy thread's listen socket to SO_RCVBUF = 256 KiB. Main thread only.
 *
 * Why: 20.57's uSockets reads a readable socket in a loop, `recv()` into a 512 KiB buffer and
 * `on_data`, and reads again whenever a `recv()` filled all 512 KiB; the pause is never looked at.
 * With the kernel's receive buffer for a connection at 256 KiB (which Linux doubles into a 512 KiB
 * budget, headers and bookkeeping included), no `recv()` returns 512 KiB of data, so the loop ends
 * after one read and the pause holds as on 20.30 (bench/results/uws-probe.md). Without it Linux
 * grows the buffer to tcp_rmem's maximum (MiBs), and a fast upload to a slow backend is read into
 * the proxy thread's memory. Every connection accepted from a listen socket inherits the
 * listener's size and its lock (tcp_create_openreq_child), so setting the listener is enough.
 *
 * How, with no socket options in uWS's API and none for TCP in Node's: a libuv UDP handle
 * (`process.binding('udp_wrap')`, a private internal, like src/worker/native-write.ts's) opened on
 * the listen socket's descriptor sets it, since libuv's uv_recv_buffer_size works on any socket.
 * It runs in the main thread because libuv refuses a descriptor its own loop already watches
 * (EEXIST), and the descriptor is in its proxy thread's loop. The descriptor is found from the
 * port: /proc/self/net/tcp{,6} give the inodes listening on it, /proc/self/fd the descriptors
 * (Linux only; the 20.57 build ships no musl binary, and this is its only platform to need it).
 *
 * Ownership: such a handle closes its descriptor when it is closed, and the descriptor is uWS's,
 * so these handles are never closed. One is kept per descriptor number, reused when a later
 * listen socket gets the same number (a pause and resume usually do), never started (it reads
 * nothing, and does not keep the loop alive): at most one per descriptor number the process ever
 * gives a listen socket. symphony ends with process.exit(), which closes no handle. (An earlier way,
 * a child process holding copies of the descriptors, kept a socket open that a thread had just
 * closed, so connections queued on it went unaccepted; docs/limits.md.)
 *
 * Not covered: connections whose handshake completed between a thread's listen and this (one
 * message to the main thread, milliseconds) keep Linux's growing buffer. The cost: one upload
 * connection's receive window stays under 512 KiB, so its rate is at most 512 KiB per round trip
 * (50 MiB/s at 10 ms). Downloads and small requests are not touched. docs/limits.md says so.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** SO_RCVBUF asked for: half of uSockets' 512 KiB read buffer, since the kernel doubles it. */
export const RECEIVE_BUFFER_BYTES = 256 * 1024

/** What became of one `limit` call. */
export type ReceiveBufferOutcome =
  /** `sockets` listening sockets newly set (0: all were already); `bytes` as the kernel reports it (doubled). */
  | { readonly ok: true, readonly sockets: number, readonly bytes: number }
  /** A socket could not be set; `reason` is one line. */
  | { readonly ok: false, readonly reason: string }

/** The part of Node's private UDP handle used here. */
interface UdpHandle {
  open: (fd: number) => number
  bufferSize: (size: number, receive: boolean, ctx: { code?: string, message?: string }) => number | undefined
  unref?: () => void
}

/** Node's private UDP handle class; throws if a Node release drops it (test/gateway/receive-buffers.test.ts). */
function udpHandleClass (): new () => UdpHandle {
  // A private API on purpose (see the file comment).
  // eslint-disable-next-line n/no-deprecated-api
  const binding = (process as unknown as { binding: (name: string) => { UDP?: new () => UdpHandle } | undefined }).binding('udp_wrap')
  if (typeof binding?.UDP !== 'function') throw new Error('this Node.js has no udp_wrap UDP handle')
  return binding.UDP
}

/**
 * The inodes of the sockets listening on `port` in the text of a /proc/net/tcp or tcp6 file:
 * columns `sl local_address rem_address st ... inode`, the port in hex after the colon, state
 * 0A = LISTEN.
 */
export function listeningInodes (procNetTcp: string, port: number): string[] {
  const inodes: string[] = []
  const lines = procNetTcp.split('\n')
  for (let i = 1; i < lines.length; i++) {
    const cols = lines[i].trim().split(/\s+/)
    if (cols.length < 10 || cols[3] !== '0A') continue
    const colon = cols[1].lastIndexOf(':')
    if (colon < 0 || parseInt(cols[1].slice(colon + 1), 16) !== port) continue
    inodes.push(cols[9])
  }
  return inodes
}

/** The inodes of the network namespace's sockets listening on `port`, IPv4 and IPv6. */
function inodesListeningOn (port: number): Set<string> {
  const inodes = new Set<string>()
  for (const file of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string
    try { text = readFileSync(file, 'latin1') } catch { continue } // no IPv6 in this kernel
    for (const inode of listeningInodes(text, port)) inodes.add(inode)
  }
  return inodes
}

/** The socket inode descriptor `fd` of this process refers to now, or null. */
function inodeOf (fd: number): string | null {
  let target: string
  try { target = readlinkSync(`/proc/self/fd/${fd}`) } catch { return null } // closed meanwhile
  const m = /^socket:\[(\d+)\]$/.exec(target)
  return m === null ? null : m[1]
}

/** The process's listen sockets on one port, each set once (see the file comment). */
export class ListenReceiveBuffers {
  /** By descriptor number; never closed (they would close uWS's descriptor). */
  private readonly handles = new Map<number, UdpHandle>()
  /** Inodes of listen sockets already set, pruned to those still listening at each call. */
  private readonly done = new Set<string>()
  private readonly UDP: new () => UdpHandle

  constructor (private readonly bytes = RECEIVE_BUFFER_BYTES) {
    this.UDP = udpHandleClass()
  }

  /** Sets every socket of this process listening on `port` that is not set yet. Never throws. */
  limit (port: number): ReceiveBufferOutcome {
    try {
      const listening = inodesListeningOn(port)
      for (const inode of this.done) if (!listening.has(inode)) this.done.delete(inode)
      let sockets = 0
      let bytes = 0
      if (listening.size === this.done.size) return { ok: true, sockets, bytes }
      for (const name of readdirSync('/proc/self/fd')) {
        const fd = Number(name)
        const inode = inodeOf(fd)
        if (inode === null || !listening.has(inode) || this.done.has(inode)) continue
        const set = this.set(fd)
        if (typeof set === 'string') return { ok: false, reason: `cannot set SO_RCVBUF on the listen socket on port ${port} (descriptor ${fd}): ${set}` }
        // Still the same socket after the set: a descriptor closed and reused meanwhile is left for the next call.
        if (inodeOf(fd) === inode) { this.done.add(inode); sockets++; bytes = Math.max(bytes, set) }
      }
      return { ok: true, sockets, bytes }
    } catch (err) {
      return { ok: false, reason: `cannot read /proc/self: ${(err as Error).message}` }
    }
  }

  /** Sets descriptor `fd`'s receive buffer; the size read back, or why not. */
  private set (fd: number): number | string {
    let h = this.handles.get(fd)
    if (h === undefined) {
      h = new this.UDP()
      const rc = h.open(fd)
      if (rc !== 0) return `libuv error ${rc}`
      h.unref?.()
      this.handles.set(fd, h)
    }
    const ctx: { code?: string, message?: string } = {}
    if (h.bufferSize(this.bytes, true, ctx) === undefined) return ctx.message ?? ctx.code ?? 'setsockopt failed'
    const now = h.bufferSize(0, true, ctx)
    return now ?? 0
  }

  /** Descriptor numbers holding a handle (for the tests: bounded by the numbers ever listened on). */
  get handleCount (): number { return this.handles.size }
}
