/**
 * CPU cost of one --max-connections poll (src/gateway/connection-limit.ts), with N established
 * connections on a local port: the cheap observation (sockstat, sockstat6, snmp), the exact count
 * (reading and parsing /proc/net/tcp), and a whole poll with the limit 100 above N, where the
 * namespace's socket total (2 N: clients are on this host, so the table holds both ends of each
 * connection) is past the limit and only the passive-open bound spares the table read.
 *
 *   node dist/bench/poll-cost.js [connections=5000] [polls=400]
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { ClientConnections, ConnectionLimit } from '../src/gateway/connection-limit'
import { createLogger } from '../src/log'

async function main (): Promise<void> {
  const n = Number(process.argv[2] ?? 5000)
  const polls = Number(process.argv[3] ?? 400)
  const server = net.createServer((s) => { s.on('error', () => {}) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  const clients: net.Socket[] = []
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from({ length: Math.min(100, n - i) }, () => new Promise<net.Socket>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1', () => resolve(c))
      c.once('error', reject)
    }))
    clients.push(...await Promise.all(batch))
  }
  const conns = new ClientConnections('127.0.0.1', port)
  const measure = (fn: () => number): { us: number, value: number } => {
    let value = fn() // warm
    const t0 = process.cpuUsage()
    for (let i = 0; i < polls; i++) value = fn()
    const d = process.cpuUsage(t0)
    return { us: (d.user + d.system) / polls, value }
  }
  const observe = measure(() => conns.observe().inuse)
  const count = measure(() => conns.count())
  const limit = new ConnectionLimit({ limit: n + 100, connections: conns, gate: { setAccepting () {} }, log: createLogger('error') })
  const poll = measure(() => { limit.tick(); return limit.exactCounts })
  console.log(JSON.stringify({
    connections: n,
    tcpTableLines: readFileSync('/proc/net/tcp', 'latin1').split('\n').length - 2,
    polls,
    observeUs: +observe.us.toFixed(1),
    inuse: observe.value,
    countUs: +count.us.toFixed(1),
    count: count.value,
    pollNearLimitUs: +poll.us.toFixed(1),
    exactCounts: poll.value
  }))
  for (const c of clients) c.destroy()
  server.close()
}

void main()
