import t from 'tap'
import { isChunked } from '../../src/worker/headers'

t.test('isChunked: chunked in any case with SP/HTAB around; nothing else', async (t) => {
  for (const v of ['chunked', 'Chunked', ' chunked', 'chunked\t', '\t CHUNKED  ']) t.ok(isChunked(v), JSON.stringify(v))
  for (const v of ['\x0bchunked', 'chunked\x0c', '\u00a0chunked', 'chunked, identity', 'xchunked', 'chunk', '', 'chunked\r']) t.notOk(isChunked(v), JSON.stringify(v))
})
