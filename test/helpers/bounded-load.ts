/**
 * Bounded GET load on 127.0.0.1:`port` for the restart and takeover tests: `keepAlive` loops on
 * one undici pool and `fresh` loops opening a connection per request, until stop() or `maxMs`.
 * Every answer other than 200 and every socket error is kept, named by the kind of loop.
 */
import http from 'node:http'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Pool } from 'undici'

/** `failedSpan`: when the first and the last failure happened (ms since the epoch), or null. */
export interface LoadResult { ok: number, fresh: number, failed: string[], failedSpan: [number, number] | null }

export function boundedLoad (port: number, keepAlive: number, fresh: number, maxMs: number, path = '/api/v1/hello'): { stop: () => Promise<LoadResult> } {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: keepAlive, keepAliveTimeout: 30_000 })
  const deadline = Date.now() + maxMs
  let running = true
  let ok = 0
  let freshOk = 0
  const failed: string[] = []
  let failedSpan: [number, number] | null = null
  const fail = (what: string): void => {
    const now = Date.now()
    failed.push(what)
    failedSpan = failedSpan === null ? [now, now] : [failedSpan[0], now]
  }
  const pooled = async (): Promise<void> => {
    while (running && Date.now() < deadline) {
      try {
        const res = await pool.request({ path, method: 'GET' })
        await res.body.text()
        if (res.statusCode === 200) ok++
        else fail(`keep-alive: HTTP ${res.statusCode}`)
      } catch (err) {
        fail(`keep-alive: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
      }
    }
  }
  const oneFresh = (): Promise<void> => new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume()
      res.on('end', () => {
        if (res.statusCode === 200) { ok++; freshOk++ } else fail(`fresh: HTTP ${res.statusCode ?? 0}`)
        resolve()
      })
    })
    req.on('error', (err: NodeJS.ErrnoException) => { fail(`fresh: ${err.code ?? err.message}`); resolve() })
  })
  const fresher = async (): Promise<void> => {
    while (running && Date.now() < deadline) await oneFresh()
  }
  const loops = [...Array.from({ length: keepAlive }, pooled), ...Array.from({ length: fresh }, fresher)]
  return {
    stop: async () => {
      running = false
      await Promise.all(loops)
      await pool.close()
      return { ok, fresh: freshOk, failed, failedSpan }
    }
  }
}

/**
 * As docs/reliability.md requires for a takeover without a failed request (and docs/https.md for
 * a certificate reload): the old listen socket's accept queue moves to the new one instead of
 * being reset (net.ipv4.tcp_migrate_req=1, Linux 5.14+, per network namespace: the host's here).
 * Needs root. Test files run in parallel processes, so the holders are counted across them
 * (a marker file per holder under MIGRATE_DIR): the first one saves the value it found, and the
 * last one to finish puts it back. Each restoring its own reading would put 0 back while
 * another file still needed 1, or leave 1 behind for good.
 */
const MIGRATE_DIR = '/tmp/symphony-migrate-req'
let migrateHolds = 0

function liveHolders (): string[] {
  const live: string[] = []
  for (const name of readdirSync(MIGRATE_DIR)) {
    const pid = Number(name.split('-')[0])
    if (!Number.isInteger(pid) || pid <= 0) continue
    try { process.kill(pid, 0); live.push(name) } catch { rmSync(join(MIGRATE_DIR, name), { force: true }) } // its process ended without teardown
  }
  return live
}

export function migrateAcceptQueues (t: { teardown: (fn: () => void) => void }): void {
  const file = '/proc/sys/net/ipv4/tcp_migrate_req'
  const saved = join(MIGRATE_DIR, 'before')
  mkdirSync(MIGRATE_DIR, { recursive: true })
  if (liveHolders().length === 0) writeFileSync(saved, readFileSync(file, 'utf8').trim())
  const mine = join(MIGRATE_DIR, `${process.pid}-${++migrateHolds}`)
  writeFileSync(mine, '')
  writeFileSync(file, '1')
  t.teardown(() => {
    rmSync(mine, { force: true })
    if (liveHolders().length > 0 || !existsSync(saved)) return
    writeFileSync(file, readFileSync(saved, 'utf8').trim())
    rmSync(saved, { force: true })
  })
}
