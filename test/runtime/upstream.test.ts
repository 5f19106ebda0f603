/**
 * The upstream decision. The probe itself runs for real on loopback (connected, refused); the
 * chooser's tests script the probe's answer, because "unreachable" cannot be made on loopback:
 * test/runtime/upstream-cli.test.ts makes it for real in a network namespace.
 */
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { probeReachability, reachableDespite } from '../../src/runtime/reachability'
import { UpstreamChooser } from '../../src/runtime/upstream'
import type { Reachability } from '../../src/runtime/reachability'
import type { Logger } from '../../src/log'

function recordingLog (): { log: Logger, lines: Array<{ level: string, msg: string, fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string, msg: string, fields?: Record<string, unknown> }> = []
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => { lines.push({ level, msg, ...(fields !== undefined ? { fields } : {}) }) }
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines }
}

const PUBLISHED = { host: '127.0.0.1', port: 8000 }

t.test('probeReachability: a listener is reachable, a refusal is reachable too', async (t) => {
  const server = net.createServer((s) => s.destroy())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port
  t.same(await probeReachability('127.0.0.1', port, 1000), { reachable: true, reason: 'connected' })
  await new Promise((resolve) => server.close(resolve))
  // The same port, now closed: the kernel answers RST.
  t.same(await probeReachability('127.0.0.1', port, 1000), { reachable: true, reason: 'refused' })
})

t.test('reachableDespite: only a refusal proves the address routable', async (t) => {
  t.equal(reachableDespite('ECONNREFUSED'), true)
  for (const code of ['EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EACCES', 'EPERM', undefined]) t.equal(reachableDespite(code), false, String(code))
})

t.test('auto: direct when the first address answers, decided once, logged once', async (t) => {
  const { log, lines } = recordingLog()
  const probed: string[] = []
  const chooser = new UpstreamChooser({ mode: 'auto', log, probe: async (h, p) => { probed.push(`${h}:${p}`); return { reachable: true, reason: 'refused' } } })
  t.equal(chooser.decision, null)
  // No address yet (a stopped container): the published port, and nothing decided.
  t.same(await chooser.address(null, 80, PUBLISHED), PUBLISHED)
  t.equal(chooser.decision, null)
  const [a, b] = await Promise.all([chooser.address('172.17.0.2', 80, PUBLISHED), chooser.address('172.17.0.3', 80, { host: '127.0.0.1', port: 8001 })])
  t.same(a, { host: '172.17.0.2', port: 80 })
  t.same(b, { host: '172.17.0.3', port: 80 })
  t.same(await chooser.address('172.17.0.4', 80, PUBLISHED), { host: '172.17.0.4', port: 80 })
  t.same(probed, ['172.17.0.2:80'], 'one probe for concurrent and later calls')
  t.match(chooser.decision, { mode: 'direct', reason: /172\.17\.0\.2:80 reachable \(refused\)/ })
  t.equal(lines.length, 1)
  t.match(lines[0], { level: 'info', fields: { event: 'upstream', mode: 'direct' } })
})

t.test('auto: published ports when the first address does not answer (scripted probe)', async (t) => {
  const { log, lines } = recordingLog()
  const chooser = new UpstreamChooser({ mode: 'auto', log, probe: async (): Promise<Reachability> => ({ reachable: false, reason: 'timeout after 1000 ms' }) })
  t.same(await chooser.address('192.168.65.3', 80, PUBLISHED), PUBLISHED)
  t.same(await chooser.address('192.168.65.4', 80, { host: '127.0.0.1', port: 8001 }), { host: '127.0.0.1', port: 8001 })
  t.match(chooser.decision, { mode: 'published', reason: /not reachable from here \(timeout after 1000 ms\)/ })
  t.equal(lines.length, 1)
  t.match(lines[0], { level: 'warn', fields: { event: 'upstream', mode: 'published' } })
})

t.test('auto: a probe that throws counts as unreachable', async (t) => {
  const chooser = new UpstreamChooser({ mode: 'auto', probe: async () => { throw new Error('boom') } })
  t.same(await chooser.address('172.17.0.2', 80, PUBLISHED), PUBLISHED)
  t.match(chooser.decision, { mode: 'published', reason: /boom/ })
})

t.test('forced modes never probe', async (t) => {
  const probe = async (): Promise<Reachability> => { throw new Error('must not probe') }
  const direct = new UpstreamChooser({ mode: 'direct', probe })
  t.same(await direct.address('172.17.0.2', 3000, PUBLISHED), { host: '172.17.0.2', port: 3000 })
  t.same(await direct.address(null, 3000, PUBLISHED), PUBLISHED, 'no address on the network: the published port')
  t.same(direct.decision, { mode: 'direct', reason: '--upstream direct' })
  const published = new UpstreamChooser({ mode: 'published', probe })
  t.same(await published.address('172.17.0.2', 3000, PUBLISHED), PUBLISHED)
  t.same(published.decision, { mode: 'published', reason: '--upstream published' })
})
