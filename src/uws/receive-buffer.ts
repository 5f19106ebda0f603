/**
 * NOT USED BY THE GATEWAY (withdrawn): scripts/uws-probe.js's pause probe uses it, and
 * test/uws/receive-buffer.test.ts shows what it does. Run after each listen, it held uWS 20.57's
 * pause (streaming.test passed there), but the child below holds copies of every listen socket
 * of the process while it runs (0.1-1.5 s): a listen socket that a thread closes meanwhile
 * (a drain, a connection-limit pause, a certificate swap, another thread's) stays open in the
 * child and goes on taking connections that nobody accepts (test/gateway/lifecycle.test.ts
 * failed on 20.57 in CI: a connection 200 ms after SIGTERM was not refused). docs/limits.md.
 *
 * Keeps `res.pause()` holding on a build that reads past it (UwsRuntime.readsPastPause: uWS
 * 20.57). Its uSockets reads a readable socket in a loop, `recv()` into a 512 KiB buffer and
 * `on_data`, and reads again only when a `recv()` filled all 512 KiB; the pause is never looked
 * at. With the kernel's receive buffer for the socket kept at SO_RCVBUF = 256 KiB (which the
 * kernel doubles into a 512 KiB budget, headers and bookkeeping included), no `recv()` can return
 * 512 KiB of data, so the loop ends after one read and the pause holds as on 20.30
 * (bench/results/uws-probe.md). Without it Linux grows the buffer to tcp_rmem's maximum (MiBs),
 * and a fast upload to a slow backend is read into the proxy thread's memory.
 *
 * uWS's JavaScript API has no socket options, and Node.js sets SO_RCVBUF only on UDP sockets. So
 * after a listen, this module finds the listen socket's descriptor (/proc/self/net/tcp{,6} and
 * /proc/self/fd: Linux only), hands a copy of it to a short-lived child Node process as its fd 3+,
 * and the child sets SO_RCVBUF on that copy through `process.binding('udp_wrap')` (libuv's
 * uv_recv_buffer_size works on any socket). A socket option belongs to the socket, not to the
 * descriptor, so the parent's listen socket has it; every connection accepted from then on
 * inherits it (the kernel copies the listener's buffer size and its lock into each new
 * connection). The child is the one that owns the copies, so no handle in this process ever
 * closes a descriptor uWS owns. A private Node internal on purpose, like
 * src/worker/native-write.ts's; test/uws/receive-buffer.test.ts fails loudly if a Node release
 * drops it.
 *
 * Not covered: connections whose handshake completed between the listen and the child's
 * setsockopt (the child's start: a second or so on a loaded machine) keep Linux's growing
 * buffer. The cost: one upload connection's receive window stays under 512 KiB, so its rate is
 * at most 512 KiB per round trip (50 MiB/s at 10 ms). Downloads and small requests are not
 * touched. docs/limits.md says so.
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** SO_RCVBUF asked for: half of uSockets' 512 KiB read buffer, since the kernel doubles it. */
export const RECEIVE_BUFFER_BYTES = 256 * 1024

/** A child that takes longer than this is killed, and the listen socket keeps Linux's default. */
const CHILD_MS = 10_000

/** What became of one limitReceiveBuffer() call. */
export type ReceiveBufferOutcome =
  /** Every listening socket on the port now has SO_RCVBUF `bytes` (as the kernel reports it: doubled). */
  | { readonly ok: true, readonly sockets: number, readonly bytes: number }
  /** Nothing was changed, or not everywhere; `reason` is one line. */
  | { readonly ok: false, readonly reason: string }

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

/** This process's descriptors of sockets listening on `port` (every proxy thread's, SO_REUSEPORT). */
export function listeningDescriptors (port: number): number[] {
  const inodes = new Set<string>()
  for (const file of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string
    try { text = readFileSync(file, 'latin1') } catch { continue } // no IPv6 in this kernel
    for (const inode of listeningInodes(text, port)) inodes.add(inode)
  }
  const fds: number[] = []
  if (inodes.size === 0) return fds
  for (const name of readdirSync('/proc/self/fd')) {
    let target: string
    try { target = readlinkSync(`/proc/self/fd/${name}`) } catch { continue } // closed meanwhile
    const m = /^socket:\[(\d+)\]$/.exec(target)
    if (m !== null && inodes.has(m[1])) fds.push(Number(name))
  }
  return fds
}

/**
 * The child's program: for fds 3 .. 3+n-1, check that each is still a socket on `port` (a
 * descriptor can be closed and its number reused between the parent's look-up and the spawn),
 * set SO_RCVBUF, read it back; one line `fd size` per socket, or `error ...` and exit 1.
 */
const CHILD = `
'use strict'
const [bytes, port, n] = process.argv.slice(1).map(Number)
const { UDP } = process.binding('udp_wrap')
const out = []
for (let fd = 3; fd < 3 + n; fd++) {
  const h = new UDP()
  const ctx = {}
  const name = {}
  if (h.open(fd) !== 0 || h.getsockname(name) !== 0) { console.log('error fd ' + fd + ': not a socket'); process.exit(1) }
  if (name.port !== port) continue
  if (h.bufferSize(bytes, true, ctx) === undefined) { console.log('error fd ' + fd + ': ' + (ctx.message || ctx.code)); process.exit(1) }
  out.push(fd + ' ' + h.bufferSize(0, true, ctx))
}
console.log(out.join('\\n'))
`

/**
 * Sets SO_RCVBUF = `bytes` on every socket of this process listening on `port`, through a child
 * process (see above). Never rejects: a failure is an outcome, for the caller to log.
 */
export function limitReceiveBuffer (port: number, bytes = RECEIVE_BUFFER_BYTES): Promise<ReceiveBufferOutcome> {
  let fds: number[]
  try {
    fds = listeningDescriptors(port)
  } catch (err) {
    return Promise.resolve({ ok: false, reason: `cannot read /proc/self: ${(err as Error).message}` })
  }
  if (fds.length === 0) return Promise.resolve({ ok: false, reason: `no socket listening on port ${port} found in /proc/self/net/tcp` })
  return new Promise((resolve) => {
    let out = ''
    // env {}: NODE_OPTIONS and the like are the gateway's, not this program's.
    const child = spawn(process.execPath, ['-e', CHILD, String(bytes), String(port), String(fds.length)], {
      stdio: ['ignore', 'pipe', 'ignore', ...fds],
      env: {},
      timeout: CHILD_MS
    })
    child.stdout?.setEncoding('latin1')
    child.stdout?.on('data', (d: string) => { out += d })
    child.on('error', (err) => { resolve({ ok: false, reason: `cannot run ${process.execPath}: ${err.message}` }) })
    child.on('close', (code, signal) => {
      const lines = out.trim().split('\n').filter((l) => l !== '')
      if (code !== 0) {
        resolve({ ok: false, reason: lines.find((l) => l.startsWith('error')) ?? `the child setting SO_RCVBUF ended with ${signal ?? `exit code ${String(code)}`}` })
        return
      }
      const sizes = lines.map((l) => Number(l.split(' ')[1]))
      if (sizes.length === 0 || sizes.some((s) => !(s > 0 && s <= 2 * bytes))) {
        resolve({ ok: false, reason: `SO_RCVBUF read back as ${sizes.join(', ') || 'nothing'} (asked ${bytes})` })
        return
      }
      resolve({ ok: true, sockets: sizes.length, bytes: Math.max(...sizes) })
    })
  })
}
