/** /readyz's rule (src/admin/readiness.ts), row by row: ready only while listening, acting on a healthy backend, and not draining. */
import t from 'tap'
import { readiness } from '../../src/admin/readiness'

const rows: Array<[Parameters<typeof readiness>[0], boolean, string]> = [
  [{ listening: true, plane: 'acting', healthyBackend: true }, true, 'ready'],
  [{ listening: false, plane: 'acting', healthyBackend: true }, false, 'not listening yet'],
  [{ listening: true, plane: 'acting', healthyBackend: false }, false, 'no healthy backend'],
  [{ listening: false, plane: 'acting', healthyBackend: false }, false, 'not listening yet'],
  [{ listening: true, plane: 'stopping', healthyBackend: true }, false, 'draining'],
  [{ listening: true, plane: 'handing-over', healthyBackend: true }, true, 'ready'],
  [{ listening: true, plane: 'lease-lost', healthyBackend: true }, true, 'ready']
]
for (const [inputs, ready, status] of rows) {
  t.same(readiness(inputs), { ready, status }, JSON.stringify(inputs))
}
