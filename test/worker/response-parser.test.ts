import t from 'tap'
import { ResponseParser, MAX_HEAD_BYTES, BODY_CLOSE, type ResponseSink } from '../../src/worker/response-parser'

interface Seen {
  status: number
  text: string
  headers: string[]
  body: string
  ended: number
  error: string | null
  keepAlive: boolean
  /** Bytes left over after the response (a later response or garbage). */
  rest: number
  latin1: boolean
}

/** Feed `wire` in pieces of `step` bytes (0: whole), resuming when paused, then EOF if `eof`. */
function run (wire: string, opts: { step?: number, head?: boolean, pauseEvery?: boolean, eof?: boolean } = {}): Seen {
  const seen: Seen = { status: 0, text: '', headers: [], body: '', ended: 0, error: null, keepAlive: false, rest: 0, latin1: false }
  const sink: ResponseSink = {
    onHead (status, text, headers, latin1) { seen.status = status; seen.text = text; seen.headers = headers; seen.latin1 = latin1 },
    onBody (chunk) { seen.body += chunk.toString('latin1'); return opts.pauseEvery !== true },
    onEnd () { seen.ended++ }
  }
  const p = new ResponseParser(sink)
  p.reset(opts.head === true)
  const bytes = Buffer.from(wire, 'latin1')
  const step = opts.step === undefined || opts.step === 0 ? bytes.length : opts.step
  for (let off = 0; off < bytes.length && p.error === null && !p.done; off += step) {
    // A fresh buffer per read, as the reused read buffer would be overwritten anyway.
    const piece = Buffer.from(bytes.subarray(off, Math.min(off + step, bytes.length)))
    let pos = p.execute(piece, 0, piece.length)
    while (p.paused && p.error === null) pos = p.execute(piece, pos, piece.length)
    if (p.done) seen.rest = bytes.length - (off + pos)
  }
  if (opts.eof === true && !p.done && p.error === null && !p.eof()) seen.error = 'cut short'
  seen.error = seen.error ?? p.error
  seen.keepAlive = p.keepAlive
  return seen
}

const BODY = 'hello, world'
const cases: Array<{ name: string, wire: string, head?: boolean, eof?: boolean, want: Partial<Seen> }> = [
  {
    name: 'content-length body',
    wire: `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
    want: { status: 200, text: 'OK', body: BODY, ended: 1, keepAlive: true, headers: ['Content-Type', 'text/plain', 'Content-Length', String(BODY.length)] }
  },
  {
    name: 'chunked body with extensions and trailers',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n',
    want: { status: 200, body: BODY, ended: 1, keepAlive: true }
  },
  {
    name: 'upper-case hex chunk size',
    wire: `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nC\r\n${BODY}\r\n0\r\n\r\n`,
    want: { body: BODY, ended: 1 }
  },
  {
    name: 'no length: body until the server closes, connection not reused',
    wire: `HTTP/1.1 200 OK\r\n\r\n${BODY}`,
    eof: true,
    want: { body: BODY, ended: 1, keepAlive: false, error: null }
  },
  {
    name: 'HEAD: no body whatever Content-Length says',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n',
    head: true,
    want: { status: 200, body: '', ended: 1, keepAlive: true }
  },
  { name: '204 has no body', wire: 'HTTP/1.1 204 No Content\r\n\r\n', want: { status: 204, ended: 1, keepAlive: true } },
  { name: '304 has no body', wire: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n', want: { status: 304, ended: 1 } },
  {
    name: '1xx interim answers are skipped',
    wire: `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
    want: { status: 201, text: 'Created', body: BODY, ended: 1 }
  },
  { name: 'empty reason phrase', wire: 'HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n', want: { status: 200, text: '', ended: 1 } },
  { name: 'Connection: close', wire: 'HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n', want: { ended: 1, keepAlive: false } },
  { name: 'HTTP/1.0 closes by default', wire: 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n', want: { ended: 1, keepAlive: false } },
  { name: 'HTTP/1.0 with keep-alive', wire: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n', want: { ended: 1, keepAlive: true } },
  { name: 'bytes after the response are left alone', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE', want: { body: 'ok', ended: 1, rest: 7 } },
  { name: 'obs-text in a value is kept byte for byte', wire: 'HTTP/1.1 200 OK\r\nX-A: caf\xe9\r\nContent-Length: 0\r\n\r\n', want: { headers: ['X-A', 'caf\xe9', 'Content-Length', '0'], latin1: true } },
  { name: 'header value whitespace trimmed', wire: 'HTTP/1.1 200 OK\r\nX-A: \t spaced \t\r\nContent-Length: 0\r\n\r\n', want: { headers: ['X-A', 'spaced', 'Content-Length', '0'] } },
  // What could be read two ways, or is not HTTP, is refused (answered 502 by the exchange).
  { name: 'Content-Length with Transfer-Encoding', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', want: { error: 'content-length with transfer-encoding', ended: 0 } },
  { name: 'repeated Content-Length', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok', want: { error: 'repeated content-length' } },
  { name: 'Content-Length not digits', wire: 'HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok', want: { error: 'invalid content-length' } },
  { name: 'obs-fold', wire: 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n', want: { error: 'malformed header line' } },
  { name: 'space before colon', wire: 'HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n', want: { error: 'invalid header name' } },
  { name: 'control character in a value', wire: 'HTTP/1.1 200 OK\r\nX-A: a\x01b\r\n\r\n', want: { error: 'control character in the head' } },
  { name: 'bare LF inside a value', wire: 'HTTP/1.1 200 OK\r\nX-A: a\nX-Injected: 1\r\n\r\n', want: { error: 'control character in the head' } },
  { name: 'bare CR inside a value', wire: 'HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n', want: { error: 'control character in the head' } },
  { name: 'not HTTP', wire: 'SSH-2.0-OpenSSH\r\n\r\n', want: { error: 'malformed status line' } },
  { name: 'HTTP/2 status line', wire: 'HTTP/2 200 OK\r\n\r\n', want: { error: 'malformed status line' } },
  { name: 'bad status code', wire: 'HTTP/1.1 2x0 OK\r\n\r\n', want: { error: 'malformed status line' } },
  { name: 'bad chunk size', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', want: { error: 'malformed chunk size' } },
  { name: 'chunk data longer than announced', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n', want: { error: 'missing CRLF after chunk data' } },
  { name: 'unexpected 101', wire: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n', want: { error: 'unexpected 101 switching protocols' } },
  { name: 'cut short: fewer body bytes than Content-Length', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', eof: true, want: { error: 'cut short', ended: 0 } }
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    // Whole, then split at every byte, then one byte at a time with the sink pausing each chunk:
    // the result must not depend on how the bytes arrive.
    for (const [label, opts] of [['whole', {}], ['2-byte reads', { step: 2 }], ['1-byte reads', { step: 1 }], ['paused', { step: 3, pauseEvery: true }]] as const) {
      const seen = run(c.wire, { ...opts, head: c.head, eof: c.eof })
      for (const [k, v] of Object.entries(c.want)) t.same(seen[k as keyof Seen], v, `${label}: ${k}`)
    }
  })
}

t.test('a head larger than the limit is refused, split or not', async (t) => {
  const wire = 'HTTP/1.1 200 OK\r\nX-Big: ' + 'a'.repeat(MAX_HEAD_BYTES) + '\r\n\r\n'
  t.equal(run(wire).error, 'response head too large')
  t.equal(run(wire, { step: 1000 }).error, 'response head too large')
})

t.test('a head of exactly the limit is read; one byte more is refused, whatever the reads', async (t) => {
  // The limit counts the head up to the last field's CRLF, not the blank line after it.
  const start = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: '
  const pad = MAX_HEAD_BYTES - start.length
  for (const [extra, error] of [[0, null], [1, 'response head too large']] as const) {
    const wire = start + 'p'.repeat(pad + extra) + '\r\n\r\nok'
    for (const step of [undefined, 1, 7, 4096]) {
      const seen = run(wire, { step })
      t.equal(seen.error, error, `pad ${pad + extra}, reads of ${step ?? 'all'}: error`)
      if (error === null) t.equal(seen.body, 'ok', `pad ${pad + extra}, reads of ${step ?? 'all'}: body`)
    }
  }
})

t.test('a head split across reads right inside the blank line', async (t) => {
  const wire = `HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`
  const at = wire.indexOf('\r\n\r\n') + 2
  const seen: string[] = []
  const p = new ResponseParser({ onHead: (s) => { seen.push(`head ${s}`) }, onBody: (c) => { seen.push(c.toString()); return true }, onEnd: () => { seen.push('end') } })
  p.reset(false)
  const a = Buffer.from(wire.slice(0, at))
  const b = Buffer.from(wire.slice(at))
  t.equal(p.execute(a, 0, a.length), a.length)
  t.equal(p.execute(b, 0, b.length), b.length)
  t.same(seen, ['head 200', BODY, 'end'])
})

t.test('a body delimited by the close is marked so', async (t) => {
  const p = new ResponseParser({ onHead () {}, onBody: () => true, onEnd () {} })
  p.reset(false)
  const b = Buffer.from('HTTP/1.1 200 OK\r\n\r\nabc')
  p.execute(b, 0, b.length)
  t.equal(p.bodyKind, BODY_CLOSE)
  t.notOk(p.done)
  t.ok(p.eof())
  t.ok(p.done)
})
