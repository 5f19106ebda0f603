/**
 * Pure readers of the kernel's socket tables (Linux procfs), for the connection limit: uWS 20.30
 * has no per-connection open/close hook for HTTP, so the gateway counts its connections the way
 * `ss` does, from the kernel's side.
 *
 * Formats (net/ipv4/tcp_ipv4.c get_tcp4_sock, net/ipv6/tcp_ipv6.c get_tcp6_sock):
 * `  sl: LOCAL:PORT REMOTE:PORT ST ...`, with an address as `%08X` of the network-order word
 * read natively (IPv4), or four such words (IPv6), the port as `%04X` in host order and the state
 * as `%02X` (01 = ESTABLISHED, 0A = LISTEN). https://www.kernel.org/doc/html/latest/networking/proc_net_tcp.html
 */
import { isIP } from 'node:net'
import { endianness } from 'node:os'

/** TCP states as /proc/net/tcp prints them (include/net/tcp_states.h). */
export const TCP_ESTABLISHED = 0x01
export const TCP_LISTEN = 0x0a

/** Which lines of one table are the gateway's sockets. */
export interface SocketMatch {
  /** Local port. */
  readonly port: number
  /** Local address as the table prints it (8 or 32 hex digits), or null for any address. */
  readonly address: string | null
}

/** What to read for a listener on `host`: each table's match, or null where it cannot hold our sockets. */
export interface ListenerTables {
  readonly tcp: SocketMatch | null
  readonly tcp6: SocketMatch | null
}

/**
 * The tables and local addresses of the sockets accepted by a listener on `host:port`.
 *
 * `0.0.0.0` is an IPv4 socket of any local address; `::` is dual-stack (uSockets turns
 * IPV6_V6ONLY off), so IPv4 clients show up in tcp6 as `::ffff:a.b.c.d`, still of any address.
 * A host name is resolved by uSockets at bind time to an address we do not learn, so it matches
 * on the port alone, in both tables (overcounting only another listener on the same port).
 */
export function listenerTables (host: string, port: number, order: 'LE' | 'BE' = endianness()): ListenerTables {
  if (host === '0.0.0.0') return { tcp: { port, address: null }, tcp6: null }
  if (host === '::') return { tcp: null, tcp6: { port, address: null } }
  const family = isIP(host)
  if (family === 4) return { tcp: { port, address: procAddress(host, order) }, tcp6: null }
  if (family === 6) return { tcp: null, tcp6: { port, address: procAddress(host, order) } }
  return { tcp: { port, address: null }, tcp6: { port, address: null } }
}

/** An IP address as /proc/net/tcp{,6} prints it: each 32-bit network-order word read in `order`. */
export function procAddress (ip: string, order: 'LE' | 'BE' = endianness()): string {
  const bytes = isIP(ip) === 4 ? ip.split('.').map(Number) : ipv6Bytes(ip)
  let out = ''
  for (let i = 0; i < bytes.length; i += 4) {
    const word = order === 'LE' ? [bytes[i + 3], bytes[i + 2], bytes[i + 1], bytes[i]] : bytes.slice(i, i + 4)
    for (const b of word) out += b.toString(16).toUpperCase().padStart(2, '0')
  }
  return out
}

function ipv6Bytes (ip: string): number[] {
  let text = ip.split('%')[0] // a zone (fe80::1%eth0) is not part of the address
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4 !== null) {
    // ::ffff:127.0.0.1 → ::ffff:7f00:1
    const [a, b, c, d] = v4[1].split('.').map(Number)
    text = text.slice(0, v4.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined]
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const groups = [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return groups.flatMap((g) => { const n = parseInt(g, 16); return [n >> 8, n & 0xff] })
}

const COLON = 0x3a
const NL = 0x0a

/**
 * Sockets of one /proc/net/tcp or tcp6 text in `state` (ESTABLISHED by default) whose local side
 * is `match`. Works on the bytes: at 5 000 connections the table is about 1.5 MB, read four
 * times a second near the limit, and a string per line would be most of the cost.
 */
export function countSockets (table: Buffer | string, match: SocketMatch, state: number = TCP_ESTABLISHED): number {
  const buf = typeof table === 'string' ? Buffer.from(table, 'latin1') : table
  const port = match.port.toString(16).toUpperCase().padStart(4, '0')
  const p0 = port.charCodeAt(0); const p1 = port.charCodeAt(1); const p2 = port.charCodeAt(2); const p3 = port.charCodeAt(3)
  const hex = state.toString(16).toUpperCase().padStart(2, '0')
  const s0 = hex.charCodeAt(0); const s1 = hex.charCodeAt(1)
  const address = match.address === null ? null : Buffer.from(match.address, 'latin1')
  let n = 0
  for (let line = 0; line < buf.length;) {
    let end = buf.indexOf(NL, line)
    if (end < 0) end = buf.length
    // "   7: 0100007F:48B2 0100007F:DA44 01 ..." — the header line has no "N:" and is skipped.
    const sl = buf.indexOf(COLON, line)
    if (sl > line && sl < end && isDigit(buf[sl - 1])) {
      const local = sl + 2
      const sep = buf.indexOf(COLON, local)
      const width = sep - local
      const st = local + 2 * width + 12
      if ((width === 8 || width === 32) && st + 1 < end &&
        buf[sep + 1] === p0 && buf[sep + 2] === p1 && buf[sep + 3] === p2 && buf[sep + 4] === p3 &&
        buf[st] === s0 && buf[st + 1] === s1 && buf[st - 1] === 0x20 &&
        (address === null || (address.length === width && buf.compare(address, 0, width, local, sep) === 0))) {
        n++
      }
    }
    line = end + 1
  }
  return n
}

function isDigit (c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

/**
 * `PassiveOpens` of /proc/net/snmp's two `Tcp:` lines (names, then values): connections the
 * network namespace has accepted since boot, IPv4 and IPv6 (tcp_create_openreq_child counts every
 * child socket of a listener). Our count can grow by at most its growth, so a count taken after
 * reading it stays an upper bound, plus that growth, for as long as no new count is taken.
 */
export function snmpPassiveOpens (text: string): number {
  const lines = text.split('\n').filter((l) => l.startsWith('Tcp: '))
  const names = lines[0]?.split(' ') ?? []
  const i = names.indexOf('PassiveOpens')
  const value = i < 0 || lines.length < 2 ? NaN : Number(lines[1].split(' ')[i])
  if (!Number.isSafeInteger(value)) throw new Error(`no Tcp PassiveOpens in ${JSON.stringify(text.slice(0, 80))}`)
  return value
}

/**
 * `N` of the `TCP: inuse N` line of /proc/net/sockstat (or `TCP6: inuse N` of sockstat6): every
 * hashed TCP socket of the network namespace (listening, established, in accept queues; not
 * TIME_WAIT), so an upper bound of any count `countSockets` can find, for a few bytes of read.
 */
export function sockstatInuse (text: string): number {
  const m = /^TCP6?: inuse (\d+)/m.exec(text)
  if (m === null) throw new Error(`no "TCP: inuse" line in ${JSON.stringify(text.slice(0, 80))}`)
  return Number(m[1])
}
