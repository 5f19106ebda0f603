/**
 * `--scenario idle10k`: the memory a proxy spends on idle keep-alive client connections. Each
 * round starts every proxy afresh (in front of the same two backends), warms it with 100
 * one-request connections, reads its RSS, then opens `--idle-connections` (10 000) connections
 * that each make one GET / and then stay open and silent, reads the RSS again as soon as the last
 * one has its answer, and keeps watching (open count, RSS) for `--idle-hold` seconds, which shows
 * whether and when the proxy closes idle connections by itself (uWebSockets.js: ~10 s).
 * RSS per connection = (RSS after − RSS before) / connections still open at that moment.
 */
import { readFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { sleep, type ModeContext, type ModeOutput } from './mode'
import { freePort, stopChild, treeRssBytes } from './procs'
import { fmt } from './report'
import { spread, type Spread } from './stats'
import { startHaproxy, startNginx, startSymphony, type Proxy } from './targets'

/** Connections being opened at once. */
const OPEN_CONCURRENCY = 1000
/** RSS and the open count are sampled this often while the connections open. */
const SAMPLE_MS = 250
/** One connection's connect + answer must take less than this, or it counts as failed. */
const ANSWER_TIMEOUT_MS = 10_000
const WARM_CONNECTIONS = 100
const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')

/** One idle connection: when it got its answer and when (if) it was closed, in ms since the batch began. */
interface Conn {
  readonly socket: net.Socket
  answeredAt: number | null
  closedAt: number | null
}

/** What one round measured for one proxy. */
export interface IdleRecord {
  readonly target: string
  readonly round: number
  readonly connections: number
  /** Connections that got their answer. */
  readonly answered: number
  readonly failed: number
  /** Time to open all and get every answer. */
  readonly openMs: number
  readonly rssBeforeBytes: number
  readonly rssAfterBytes: number
  /** Open (answered, not closed) when rssAfter was read: at the end of the opening, or earlier if more were open then. */
  readonly openAtSample: number
  readonly bytesPerConn: number
  /** Closed by the proxy while idle during the hold, and after how long idle (ms). */
  readonly closedByProxy: number
  readonly idleBeforeCloseMs: Spread | null
  /** RSS after the bench closed its side and 2 s passed. */
  readonly rssAfterCloseBytes: number
  /** Set when the proxy ended during the measurement (exit code or signal): the record is left out of the table. */
  readonly proxyExited: string | null
  /** Every second of the hold: ms since the last answer, connections open, RSS. */
  readonly timeline: ReadonlyArray<{ ms: number, open: number, rssBytes: number }>
}

export async function runIdleConnections (ctx: ModeContext): Promise<ModeOutput> {
  const { opts, children, tmp, pinning, tools, log } = ctx
  const notes: string[] = []
  const proxyCpu = pinning?.proxyCpu ?? null
  const backendPorts: number[] = []
  for (const name of ['backend-a', 'backend-b']) {
    const child = children.spawn(name, process.execPath, [path.join(__dirname, 'backend.js'), '0'], pinning?.loadCpu ?? null)
    const line = await child.firstLine((l) => l.startsWith('{"port"'), 10_000)
    backendPorts.push((JSON.parse(line) as { port: number }).port)
  }
  const kinds = opts.targets.filter((t) => t !== 'direct' && (t === 'symphony' || tools.paths[t] !== null))
  const start = async (kind: string): Promise<Proxy> => kind === 'symphony'
    // The same headroom as haproxy.cfg's maxconn: symphony's default limit is about half the
    // open-file limit (9 864 with this machine's 20 000), below what this scenario opens.
    ? await startSymphony(children, backendPorts, await freePort(), proxyCpu, ['--max-connections', String(opts.idleConnections + 400)])
    : kind === 'nginx'
      ? await startNginx(children, tools.paths.nginx as string, backendPorts, proxyCpu, tmp)
      : await startHaproxy(children, tools.paths.haproxy as string, backendPorts, proxyCpu, tmp)

  const records: IdleRecord[] = []
  const commands: Record<string, string> = {}
  for (let round = 1; round <= opts.rounds; round++) {
    for (const kind of kinds) {
      const proxy = await start(kind)
      commands[kind] = proxy.command
      try {
        const rec = await measureIdle(proxy, kind, round, opts.idleConnections, opts.idleHoldS)
        records.push(rec)
        if (rec.proxyExited !== null) notes.push(`round ${round}: ${kind} ended (${rec.proxyExited}) during the measurement; left out of the table\n${proxy.child.tail()}`)
        log(`idle10k round ${round} ${kind}: ${rec.answered}/${rec.connections} answered in ${rec.openMs} ms, ` +
          `RSS ${mib(rec.rssBeforeBytes)} → ${mib(rec.rssAfterBytes)} MiB with ${rec.openAtSample} open: ` +
          `${(rec.bytesPerConn / 1024).toFixed(2)} KiB/connection; closed by the proxy within ${opts.idleHoldS} s: ${rec.closedByProxy}` +
          (rec.idleBeforeCloseMs === null ? '' : ` after ${(rec.idleBeforeCloseMs.median / 1000).toFixed(1)} s idle`))
      } finally {
        await stopChild(proxy.child)
      }
    }
  }
  const fdLimit = openFileLimit()
  const markdown = `${render(records, kinds, opts.idleConnections, opts.idleHoldS, opts.rounds)}Open-file limit of the bench and the proxies: ${fdLimit}.\n`
  process.stdout.write(`\n${markdown}`)
  return { title: `RSS with ${opts.idleConnections} idle keep-alive connections`, markdown, notes, data: { commands, backendPorts, fdLimit, records } }
}

/** Open `n` connections to `proxy`, one request each, and watch them idle for `holdS` seconds. */
async function measureIdle (proxy: Proxy, target: string, round: number, n: number, holdS: number): Promise<IdleRecord> {
  const pid = proxy.child.pid
  // Warm the accept path, the code and the upstream pools, then let it settle.
  const warm = await openBatch(proxy.port, WARM_CONNECTIONS, [])
  for (const c of warm.conns) c.socket.destroy()
  await sleep(1000)
  const rssBeforeBytes = treeRssBytes(pid)

  // On a busy machine opening 10 000 connections can take longer than uWS's ~10 s idle timeout,
  // so the first ones are gone before the last ones open: sample while opening and keep the
  // moment with the most connections open (normally the end).
  const conns: Conn[] = []
  const openNow = (): number => conns.reduce((k, c) => k + (c.answeredAt !== null && c.closedAt === null ? 1 : 0), 0)
  let best = { open: 0, rssBytes: treeRssBytes(pid) }
  const sampler = setInterval(() => {
    const o = openNow()
    if (o > best.open) best = { open: o, rssBytes: treeRssBytes(pid) }
  }, SAMPLE_MS)
  const batch = await openBatch(proxy.port, n, conns).finally(() => clearInterval(sampler))
  const atEnd = { open: openNow(), rssBytes: treeRssBytes(pid) }
  if (atEnd.open >= best.open) best = atEnd
  const rssAfterBytes = best.rssBytes
  const open = (): number => batch.conns.filter((c) => c.closedAt === null).length
  const openAtSample = best.open
  const answered = batch.conns.filter((c) => c.answeredAt !== null).length
  const lastAnswer = Math.max(0, ...batch.conns.map((c) => c.answeredAt ?? 0))
  const timeline: Array<{ ms: number, open: number, rssBytes: number }> = []
  const holdStart = Date.now()
  for (let s = 1; s <= holdS; s++) {
    await sleep(holdStart + s * 1000 - Date.now())
    timeline.push({ ms: Date.now() - batch.began, open: open(), rssBytes: treeRssBytes(pid) })
  }
  // Only connections that got their answer and were open when RSS was read count as closed by the proxy.
  const idleFor = batch.conns
    .filter((c) => c.answeredAt !== null && c.closedAt !== null && c.closedAt > (batch.doneAt - batch.began))
    .map((c) => (c.closedAt as number) - (c.answeredAt as number))
  for (const c of batch.conns) c.socket.destroy()
  await sleep(2000)
  const proc = proxy.child.proc
  const proxyExited = proc.exitCode !== null || proc.signalCode !== null ? String(proc.exitCode ?? proc.signalCode) : null
  return {
    proxyExited,
    target,
    round,
    connections: n,
    answered,
    failed: n - answered,
    openMs: batch.doneAt - batch.began,
    rssBeforeBytes,
    rssAfterBytes,
    openAtSample,
    bytesPerConn: openAtSample > 0 ? (rssAfterBytes - rssBeforeBytes) / openAtSample : 0,
    closedByProxy: idleFor.length,
    idleBeforeCloseMs: idleFor.length > 0 ? spread(idleFor) : null,
    rssAfterCloseBytes: treeRssBytes(pid),
    timeline: timeline.map((t) => ({ ...t, ms: t.ms - lastAnswer }))
  }
}

/** Open `n` connections, at most OPEN_CONCURRENCY at a time, each sending one GET and reading its answer. */
async function openBatch (port: number, n: number, conns: Conn[]): Promise<{ conns: Conn[], began: number, doneAt: number }> {
  const began = Date.now()
  let next = 0
  const one = async (): Promise<void> => {
    await new Promise<void>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port })
      const c: Conn = { socket, answeredAt: null, closedAt: null }
      conns.push(c)
      let buf = Buffer.alloc(0)
      let need = -1
      const timer = setTimeout(() => { socket.destroy(); resolve() }, ANSWER_TIMEOUT_MS)
      socket.setNoDelay(true)
      socket.once('connect', () => socket.write(REQUEST))
      socket.on('error', () => {})
      socket.once('close', () => { c.closedAt = Date.now() - began; clearTimeout(timer); resolve() })
      socket.on('data', (d: Buffer) => {
        if (c.answeredAt !== null) return
        buf = Buffer.concat([buf, d])
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        if (need < 0) {
          const m = /\r\ncontent-length:\s*([0-9]+)/i.exec(buf.subarray(0, end).toString('latin1'))
          need = end + 4 + (m === null ? 0 : Number(m[1]))
        }
        if (buf.length >= need) {
          c.answeredAt = Date.now() - began
          buf = Buffer.alloc(0)
          clearTimeout(timer)
          resolve()
        }
      })
    })
  }
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++
      await one()
    }
  }
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, n) }, worker))
  return { conns, began, doneAt: Date.now() }
}

/** "soft / hard" of this process's open-file limit (the proxies inherit it). */
function openFileLimit (): string {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
  return m === null ? 'unknown' : `${m[1]} soft / ${m[2]} hard`
}

function mib (b: number): string {
  return (b / 2 ** 20).toFixed(1)
}

function render (records: readonly IdleRecord[], kinds: readonly string[], n: number, holdS: number, rounds: number): string {
  const rows = kinds.map((k) => {
    const mine = records.filter((r) => r.target === k && r.proxyExited === null)
    if (mine.length === 0) return `| ${k} | — | | | | | | |`
    const s = (f: (r: IdleRecord) => number): Spread => spread(mine.map(f))
    const closed = mine.map((r) => r.closedByProxy)
    const idle = mine.map((r) => r.idleBeforeCloseMs?.median).filter((v): v is number => v !== undefined)
    const closedText = closed.every((c) => c === 0)
      ? `none within ${holdS} s`
      : `${fmt(spread(closed), 0)}${idle.length > 0 ? `, after ${(spread(idle).median / 1000).toFixed(1)} s idle` : ''}`
    return `| ${k} | ${fmt(s((r) => r.rssBeforeBytes / 2 ** 20), 1)} | ${fmt(s((r) => r.rssAfterBytes / 2 ** 20), 1)} | ` +
      `${fmt(s((r) => r.bytesPerConn / 1024), 2)} | ${fmt(s((r) => r.openAtSample), 0)} | ${mine.reduce((a, r) => a + r.failed, 0)} | ` +
      `${fmt(s((r) => r.openMs), 0)} | ${closedText} | ${fmt(s((r) => r.rssAfterCloseBytes / 2 ** 20), 1)} |`
  })
  return [`### RSS with ${n.toLocaleString('en-US')} idle keep-alive connections`, '',
    '| proxy | RSS before MiB | RSS with them open MiB | KiB per connection | open when measured | failed | ms to open all | closed by the proxy while idle | RSS after the client closed MiB |',
    '|---|---:|---:|---:|---:|---:|---:|---|---:|', ...rows, '',
    `Median (min–max) over ${rounds} rounds (less any in which the proxy ended, see the notes), each proxy started afresh per round and warmed with ${WARM_CONNECTIONS} connections. ` +
    'Each connection sent one GET / (100-byte answer, keep-alive) and then stayed silent; RSS (symphony: one process, main thread ' +
    'and workers; nginx: master + worker) read as soon as the last answer arrived (or, if uWS had closed some by then, at the moment ' +
    `during the opening with the most open, sampled every ${SAMPLE_MS} ms), then every second for ` +
    `${holdS} s. KiB per connection = growth / connections open at that moment. All on 127.0.0.1.`, ''].join('\n')
}
