/**
 * Fuzz (issue 6): random and mutated raw requests over real sockets, bounded in count and time.
 * The proxy must keep serving valid requests, its memory must stay flat, and no smuggled request
 * (a second request hidden in the first one's body) may reach the backend. Seeded, so a failure
 * can be replayed: FUZZ_SEED=<n>.
 */
import t from 'tap'
import net from 'node:net'
import { request } from 'undici'
import { startBackend } from '../helpers/backend'
import { startCli, rssOf } from '../helpers/cli'
import { SMUGGLE, ambiguousFramings } from '../helpers/smuggle'
import { sleep } from '../helpers/gateway'
import { QUIET_MS } from '../../src/idle-policy'

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 100000)
/** Fuzzed requests to send, and a time cap, half for each half (a loaded machine sends fewer per second). */
const COUNT = Number(process.env.FUZZ_COUNT ?? '160000')
const SECONDS = Number(process.env.FUZZ_SECONDS ?? '150')
/**
 * Requests after which the proxy's working size is reached: measured here, RSS climbs to about
 * 240 MiB over the first 60-70 thousand fuzzed requests, then holds or shrinks, whatever the rate.
 */
const SETTLE = Math.floor(COUNT / 2)
/** Past QUIET_MS, for the threads' next look (every 0.5 s in a proxy thread, every 1 s in the main one) and their collections to run. */
const RELEASE_SLACK_MS = 4000

/** Mulberry32: a small seeded PRNG. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/** Requests whose framing can be read two ways: each must be refused, the hidden one never forwarded. */
const ambiguous = ambiguousFramings()
// Mutations may turn a request into two honest pipelined ones; those use another path.
const PIPELINED = SMUGGLE.replace('/smuggled', '/pipelined')
const corpus = [
  'GET /echo HTTP/1.1\r\nHost: h\r\n\r\n',
  'POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello',
  'POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  ...ambiguous.map((a) => a.replace(SMUGGLE, PIPELINED)),
  'GET /echo HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n',
  'GET /echo HTTP/1.1\nHost: h\n\n',
  'GET /echo\x00 HTTP/1.1\r\nHost: h\r\n\r\n',
  'PUT /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999\r\n\r\nx',
  'DELETE /echo?a=%zz HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc'
]

function mutate (rand: () => number, s: string): string {
  const b = Buffer.from(s, 'latin1')
  const out: number[] = [...b]
  const n = 1 + Math.floor(rand() * 4)
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rand() * (out.length + 1))
    switch (Math.floor(rand() * 5)) {
      case 0: out.splice(at, 1); break
      case 1: out.splice(at, 0, Math.floor(rand() * 256)); break
      case 2: out[at] = [0x0d, 0x0a, 0x3a, 0x20, 0x00, 0x09][Math.floor(rand() * 6)]; break
      case 3: out.splice(at, 0, ...Buffer.from(['\r\n', 'Content-Length: 7\r\n', 'Transfer-Encoding: chunked\r\n', '0\r\n\r\n'][Math.floor(rand() * 4)])); break
      default: out.splice(at, Math.floor(rand() * 8))
    }
  }
  return Buffer.from(out).toString('latin1')
}

function send (port: number, bytes: string): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(Buffer.from(bytes, 'latin1')))
    const done = (): void => { clearTimeout(timer); s.destroy(); resolve() }
    const timer = setTimeout(done, 300)
    s.on('data', () => {})
    s.on('close', done)
    s.on('error', done)
  })
}

t.test(`fuzz, ${COUNT} requests (seed ${SEED}): still serving, flat memory, nothing smuggled`, async (t) => {
  const be = await startBackend('a')
  t.teardown(() => be.close())
  const cli = await startCli(t, ['--backend', `127.0.0.1:${be.port}`, '--threads', '2'])
  const url = `http://127.0.0.1:${cli.port}`
  const pid = cli.child.pid as number
  const rand = prng(SEED)
  for (const bytes of ambiguous) await send(cli.port, bytes)
  t.same(be.seen.filter((s) => s.url === '/smuggled').length, 0, 'no request hidden in an ambiguous one reached the backend')
  for (let i = 0; i < 200; i++) await (await request(`${url}/echo`)).body.dump()
  // The heap of a proxy under connection churn grows to a working size first (measured here:
  // +57 MiB for valid requests on fresh connections, then flat; under this fuzz about 240 MiB
  // after 60-70 thousand requests, then flat or lower), so "stable memory" is judged from
  // SETTLE requests on: a leak keeps growing after that. Both readings are taken once the
  // traffic has stopped for longer than QUIET_MS, after every thread's idle release
  // (src/idle-policy.ts): what a collection frees is then given back at both, and what is left
  // is what the proxy holds on to. Read mid-traffic, the same 80 000 requests gave 12.5 MiB in
  // one run and 24.6 MiB in another (garbage not yet collected, not a leak); read idle, 0.5-1.3
  // MiB in three runs, and 22.2 MiB with a leak of 512 bytes per request that reaches the
  // handler put into src/worker/tls-app.ts (the negative control), hence the 12 MiB bound.
  let sent = 0
  let checks = 0
  const phase = async (until: number): Promise<void> => {
    const end = Date.now() + (SECONDS * 1000) / 2
    const fuzzer = async (): Promise<void> => {
      while (Date.now() < end && sent < until) {
        const seed = corpus[Math.floor(rand() * corpus.length)]
        const bytes = rand() < 0.2 ? seed : rand() < 0.9 ? mutate(rand, seed) : Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256))).toString('latin1')
        await send(cli.port, bytes)
        sent++
      }
    }
    const checker = async (): Promise<void> => {
      while (Date.now() < end && sent < until) {
        const res = await request(`${url}/echo`)
        await res.body.dump()
        if (res.statusCode !== 200) throw new Error(`a valid request got ${res.statusCode} during the fuzz`)
        checks++
        await sleep(100)
      }
    }
    await Promise.all([fuzzer(), fuzzer(), fuzzer(), fuzzer(), checker()])
  }
  const released = async (): Promise<number> => {
    await sleep(QUIET_MS + RELEASE_SLACK_MS)
    return rssOf(pid)
  }
  await phase(SETTLE)
  const base = await released()
  await phase(COUNT)
  const after = await request(`${url}/echo`)
  t.equal(after.statusCode, 200, 'still serving after the fuzz')
  await after.body.dump()
  const growth = (await released()) - base
  t.comment(`seed ${SEED}: ${sent} fuzzed requests, ${checks} valid checks, RSS ${(base / 1048576).toFixed(0)} MiB idle after ${SETTLE} requests, growth ${(growth / 1048576).toFixed(1)} MiB idle after the rest`)
  t.ok(sent >= COUNT, `${sent} fuzzed requests sent (within ${SECONDS} s)`)
  t.ok(checks > 10, `${checks} valid requests answered 200 during the fuzz`)
  t.ok(base > 0 && growth < 12 * 1048576, `proxy RSS, idle, grew ${(growth / 1048576).toFixed(1)} MiB over the second ${COUNT - SETTLE} requests (< 12 MiB)`)
  t.equal(cli.child.exitCode, null, 'the proxy process is alive')
})
