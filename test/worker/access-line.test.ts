import t from 'tap'
import { clfText, commonLine, jsonLine, jsonText, type AccessRecord } from '../../src/worker/access-line'
import { saneRequestId, RequestIds } from '../../src/worker/request-id'

const rec = (over: Partial<AccessRecord> = {}): AccessRecord => ({
  client: '127.0.0.1', method: 'GET', path: '/a?b=1', requestId: 'rid', backendName: '10.0.0.2:80', retries: 0, sentBytes: 100, t0: 0, ...over
})

t.test('jsonText: JSON.parse gives back any string, and the line is ASCII', async (t) => {
  const cases = ['', '/plain', '"', '\\', '\x00\x01\x1f\x7f', 'é€😀', '\ud800 lone', 'a"b\\c\nd\re\tf', '</script>']
  for (let i = 0; i < 200; i++) {
    let s = ''
    for (let k = 0; k < 20; k++) s += String.fromCharCode(Math.floor(Math.random() * 0x10000))
    cases.push(s)
  }
  for (const s of cases) {
    const text = jsonText(s)
    t.equal(JSON.parse(`"${text}"`), s)
    t.ok(/^[\x20-\x7e]*$/.test(text), 'printable ASCII only')
  }
  const plain = '/api/v1/items?id=42'
  t.equal(jsonText(plain), plain, 'nothing to escape: the same string')
})

t.test('a JSON line parses, with every field', async (t) => {
  const line = jsonLine(rec({ path: '/q"\\\x7f', requestId: 'a"b' }), 200, Date.UTC(2026, 0, 2, 15, 4, 5, 123), 1.23456)
  t.ok(line.endsWith('}\n'))
  t.same(JSON.parse(line), {
    time: '2026-01-02T15:04:05.123Z', client: '127.0.0.1', method: 'GET', path: '/q"\\\x7f', status: 200, bytes: 100, duration_ms: 1.235, backend: '10.0.0.2:80', retries: 0, request_id: 'a"b'
  })
  t.equal(JSON.parse(jsonLine(rec({ backendName: '' }), 503, 0, 0)).backend, null, 'no backend: null')
})

t.test('common line: CLF fields, then duration, backend, retries, id', async (t) => {
  t.equal(commonLine(rec({ path: '/x"y\\z\x01' }), 404, Date.UTC(2026, 0, 2, 15, 4, 5, 999), 2),
    '127.0.0.1 - - [02/Jan/2026:15:04:05 +0000] "GET /x\\x22y\\x5cz\\x01 HTTP/1.1" 404 100 2 "10.0.0.2:80" 0 "rid"\n')
  t.equal(commonLine(rec({ sentBytes: 0, backendName: '', retries: 2 }), 503, Date.UTC(2026, 11, 31, 23, 59, 59), 0.5),
    '127.0.0.1 - - [31/Dec/2026:23:59:59 +0000] "GET /a?b=1 HTTP/1.1" 503 - 0.5 "-" 2 "rid"\n')
  t.equal(clfText('é'), '\\xe9')
  t.equal(clfText('€'), '\\u20ac')
})

t.test('request ids: the sane ones are kept; ours are unique and visible ASCII', async (t) => {
  t.ok(saneRequestId('a'))
  t.ok(saneRequestId('!'.repeat(200)))
  t.notOk(saneRequestId(''))
  t.notOk(saneRequestId('x'.repeat(201)))
  t.notOk(saneRequestId('a b'))
  t.notOk(saneRequestId('a\x7f'))
  t.notOk(saneRequestId('é'))
  const ids = new RequestIds()
  const seen = new Set<string>()
  for (let i = 0; i < 10_000; i++) seen.add(ids.next())
  t.equal(seen.size, 10_000)
  for (const id of [...seen].slice(0, 10)) t.ok(saneRequestId(id))
  t.not(new RequestIds().next(), new RequestIds().next(), 'another thread, another prefix')
})
