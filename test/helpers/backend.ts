import { createHash } from 'node:crypto'
import { uWS } from '../../src/uws'
import type { HttpResponse, HttpRequest, TemplatedApp, us_listen_socket } from 'uWebSockets.js'

/** What a test backend saw of one request. */
export interface Seen {
  method: string
  url: string
  query: string
  headers: Array<[string, string]>
  bodyLength: number
  sha256: string
}

export interface TestBackend {
  readonly port: number
  readonly name: string
  /** Requests received, in order. */
  readonly seen: Seen[]
  /** Requests whose client (the proxy) went away before the answer. */
  readonly aborted: { count: number }
  /** Health answers to replay, one per health request, then the last one forever (Traefik's newHTTPServer(503, 200) style); 0 = no answer at all (the probe times out). */
  healthScript: number[]
  close (): void
}

/**
 * A real uWS HTTP backend on 127.0.0.1 for tests. Routes:
 * - GET /api/v1/_health: next status of healthScript (0: no answer)
 * - /echo (any method): JSON of what arrived, body hashed while streaming
 * - /slow?ms=N: answers after N ms (with &only=X: only on the backend named X; the others at once)
 * - /bytes?n=N: N bytes of a repeating pattern, streamed with backpressure, Content-Length set
 * - /chunked?n=N: N bytes without Content-Length (chunked)
 * - /reset: closes the connection without an answer
 * - /reset-unless?name=X: the same, except on the backend named X, which answers 200 with its name
 * - /cookies: two Set-Cookie fields
 * - /status?code=N: that status, no body for 204/304
 * - anything else: 200 with the backend's name
 */
export async function startBackend (name: string, port = 0): Promise<TestBackend> {
  const app: TemplatedApp = uWS.App()
  const seen: Seen[] = []
  const abortedCount = { count: 0 }
  const state = { healthScript: [200] as number[] }
  let listen: us_listen_socket | null = null
  app.any('/*', (res: HttpResponse, req: HttpRequest) => {
    const method = req.getCaseSensitiveMethod()
    const url = req.getUrl()
    const query = req.getQuery() ?? ''
    const headers: Array<[string, string]> = []
    req.forEach((k, v) => headers.push([k, v]))
    let aborted = false
    res.onAborted(() => { aborted = true; abortedCount.count++ })
    if (url === '/api/v1/_health') {
      const code = state.healthScript.length > 1 ? state.healthScript.shift() as number : state.healthScript[0]
      if (code === 0) return // never answered: the prober gives up and closes the connection
      res.writeStatus(String(code)).end(JSON.stringify({ name, code }))
      return
    }
    if (url === '/slow') {
      const q = new URLSearchParams(query)
      const only = q.get('only')
      const ms = only !== null && only !== name ? 0 : Number(q.get('ms') ?? '100')
      setTimeout(() => { if (!aborted) res.cork(() => res.end(name)) }, ms)
      return
    }
    if (url === '/bytes' || url === '/chunked') {
      const n = Number(new URLSearchParams(query).get('n') ?? '0')
      streamBytes(res, n, url === '/bytes', () => aborted)
      return
    }
    if (url === '/reset' || (url === '/reset-unless' && new URLSearchParams(query).get('name') !== name)) {
      res.close()
      return
    }
    if (url === '/cookies') {
      res.writeHeader('set-cookie', 'a=1; Path=/').writeHeader('set-cookie', 'b=2; Path=/').writeHeader('x-backend', name).end('ok')
      return
    }
    if (url === '/status') {
      const code = Number(new URLSearchParams(query).get('code') ?? '200')
      res.writeStatus(String(code))
      if (code === 204 || code === 304) res.endWithoutBody()
      else res.end(`status ${code}`)
      return
    }
    const hash = createHash('sha256')
    let length = 0
    res.onData((chunk, isLast) => {
      hash.update(Buffer.from(chunk))
      length += chunk.byteLength
      if (!isLast) return
      const s: Seen = { method, url, query, headers, bodyLength: length, sha256: hash.digest('hex') }
      seen.push(s)
      if (!aborted) res.cork(() => res.writeHeader('x-backend', name).writeHeader('content-type', 'application/json').end(JSON.stringify({ name, ...s })))
    })
  })
  const bound = await new Promise<number>((resolve, reject) => {
    app.listen('127.0.0.1', port, (s) => {
      if (s === false) return reject(new Error(`backend ${name} cannot listen on ${port}`))
      listen = s
      resolve(uWS.us_socket_local_port(s))
    })
  })
  return {
    port: bound,
    name,
    seen,
    aborted: abortedCount,
    get healthScript () { return state.healthScript },
    set healthScript (v: number[]) { state.healthScript = v },
    close () {
      if (listen !== null) uWS.us_listen_socket_close(listen)
      listen = null;
      (app as TemplatedApp & { close: () => void }).close()
    }
  }
}

/** Pattern byte i of a generated body (so clients can check what arrived); repeats every 64 KiB. */
export function patternByte (i: number): number { return ((i & 0xffff) * 31 + 7 + (i >> 8 & 0xff)) & 0xff }

const BLOCK = 64 * 1024
/** The 64 KiB block a generated body repeats. */
export const patternBlock: Buffer = Buffer.from(Array.from({ length: BLOCK }, (_, i) => patternByte(i)))

function streamBytes (res: HttpResponse, total: number, withLength: boolean, aborted: () => boolean): void {
  const CHUNK = BLOCK
  let sent = 0
  // Chunks start at multiples of BLOCK, so each is a prefix of the pattern block.
  const fill = (_offset: number, n: number): Buffer => patternBlock.subarray(0, n)
  if (!withLength) {
    // Chunked: write() buffers whatever it cannot send; wait for onWritable to keep memory bounded.
    const pump = (): void => {
      while (sent < total && !aborted()) {
        const n = Math.min(CHUNK, total - sent)
        const ok = res.write(fill(sent, n))
        sent += n
        if (!ok) return
      }
      if (!aborted() && sent >= total) res.end()
    }
    res.onWritable(() => { res.cork(pump); return true })
    res.cork(pump)
    return
  }
  let pending: Buffer | null = null
  let pendingOffset = 0
  const pump = (): void => {
    while (sent < total && !aborted()) {
      const n = Math.min(CHUNK, total - sent)
      const chunk = fill(sent, n)
      pendingOffset = res.getWriteOffset()
      const [ok, done] = res.tryEnd(chunk, total)
      sent += n
      if (done) return
      if (!ok) { pending = Buffer.from(chunk); return }
    }
    if (total === 0) res.end()
  }
  res.onWritable((offset) => {
    if (pending !== null) {
      const [ok, done] = res.tryEnd(pending.subarray(offset - pendingOffset), total)
      if (done) return true
      if (!ok) return false
      pending = null
    }
    res.cork(pump)
    return true
  })
  res.cork(pump)
}
