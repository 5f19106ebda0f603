/**
 * AutoscalerLoop with a fake request source and a fake target: the per-second deltas go into
 * the sliding window, the policy's decisions reach the target, one JSON line per decision, and
 * the timer never overlaps a slow tick and stops on close().
 */
import t from 'tap'
import { AutoscalerLoop, type ScaleTarget } from '../../src/autoscaler/loop'
import { createLogger } from '../../src/log'

class FakeTarget implements ScaleTarget {
  running = 0
  starting = 0
  ticks = 0
  readonly calls: string[] = []
  tickMs = 0
  active = 0
  maxActive = 0
  counts (): { running: number, starting: number } { return { running: this.running, starting: this.starting } }
  scaleUp (n: number): number[] {
    this.calls.push(`up ${n}`)
    const ports = Array.from({ length: n }, (_, i) => 8000 + this.running + this.starting + i)
    this.starting += n
    return ports
  }

  scaleDown (n: number): number[] {
    this.calls.push(`down ${n}`)
    this.running -= n
    return Array.from({ length: n }, (_, i) => 8000 + this.running + i)
  }

  async tick (): Promise<void> {
    this.ticks++
    this.active++
    this.maxActive = Math.max(this.maxActive, this.active)
    if (this.tickMs > 0) await new Promise((resolve) => setTimeout(resolve, this.tickMs))
    this.active--
  }
}

function setup (over: { windowMs?: number, min?: number, max?: number } = {}): { loop: AutoscalerLoop, target: FakeTarget, source: { total: number, sample: () => void, requests: () => number }, clock: { now: number }, logs: Array<Record<string, unknown>> } {
  const source = { total: 0, samples: 0, sample () { this.samples++ }, requests () { return this.total } }
  const target = new FakeTarget()
  const clock = { now: 0 }
  const logs: Array<Record<string, unknown>> = []
  const loop = new AutoscalerLoop({
    source,
    target,
    params: { baseScaleCount: 5, minContainers: over.min ?? 1, maxContainers: over.max ?? 10, windowMs: over.windowMs ?? 3000 },
    log: createLogger('info', (line) => logs.push(JSON.parse(line))),
    now: () => clock.now
  })
  return { loop, target, source, clock, logs }
}

/** Advance the fake clock a second and tick. */
async function second (s: ReturnType<typeof setup>, requests = 0): Promise<void> {
  s.source.total += requests
  s.clock.now += 1000
  await s.loop.tickNow()
}

t.test('the first tick brings the fleet to min; load scales up to the formula; idle scales down after a window', async (t) => {
  const s = setup({ min: 1 })
  await s.loop.tickNow()
  t.same(s.target.calls, ['up 1'])
  t.match(s.logs, [{ msg: 'scale up', event: 'scale', direction: 'up', add: 1, ports: [8000], count: 0, windowSeconds: 3, desired: 1, current: 0 }])
  s.target.running = 1
  s.target.starting = 0

  await second(s, 12)
  t.same(s.target.calls, ['up 1', 'up 2'], '12 requests at base 5: 1 + floor(12 / 5) = 3')
  t.match(s.logs.at(-1), { direction: 'up', add: 2, count: 12, desired: 3, current: 1 })
  t.match(s.loop.snapshot(), { windowSeconds: 3, count: 12, desired: 3, current: 1 })
  s.target.running = 3
  s.target.starting = 0

  await second(s, 7) // 19 in the window: desired 4
  t.same(s.target.calls.at(-1), 'up 1')
  s.target.running = 4
  s.target.starting = 0
  // The window slides: seconds with 12 and 7 requests roll off after 3 s.
  await second(s)
  await second(s)
  t.equal(s.loop.snapshot().count, 7)
  await second(s)
  t.equal(s.loop.snapshot().count, 0)
  t.equal(s.target.calls.length, 3, 'below current, but not for a whole window yet')
  const downs = (): string[] => s.target.calls.filter((c) => c.startsWith('down'))
  for (let i = 0; i < 4 && downs().length === 0; i++) await second(s)
  t.same(downs(), ['down 2'], 'down to the highest desired seen during the hold (2, while 7 requests were left)')
  for (let i = 0; i < 5 && downs().length === 1; i++) await second(s)
  t.same(downs(), ['down 2', 'down 1'], 'then to 1 after another window')
  t.match(s.logs.filter((l) => l.direction === 'down').at(-1), { msg: 'scale down', event: 'scale', remove: 1, desired: 1, current: 2 })
  t.equal(s.target.running, 1)
})

t.test('a tick that came late spreads its seconds so the window keeps its length in time', async (t) => {
  const s = setup({ windowMs: 3000 })
  s.source.total = 10
  s.clock.now += 1000
  await s.loop.tickNow()
  t.equal(s.loop.snapshot().count, 10)
  s.clock.now += 3000 // three seconds in one tick: the 10 roll off
  await s.loop.tickNow()
  t.equal(s.loop.snapshot().count, 0)
})

t.test('a deferred scale-up (target started nothing) is not logged as a decision', async (t) => {
  const s = setup()
  s.target.scaleUp = (n) => { s.target.calls.push(`up ${n}`); return [] }
  await s.loop.tickNow()
  t.same(s.target.calls, ['up 1'])
  t.equal(s.logs.length, 0)
  t.equal(s.loop.snapshot().scaleUps, 0)
})

t.test('a target tick that throws is logged; the loop goes on', async (t) => {
  const s = setup()
  s.target.tick = async () => { throw new Error('boom') }
  await t.resolves(s.loop.tickNow())
  t.match(s.logs, [{ level: 'error', error: 'boom' }, { msg: 'scale up' }])
})

t.test('the timer: ticks never overlap, the next is armed after one finishes; close() stops it', async (t) => {
  const source = { sample () {}, requests () { return 0 } }
  const target = new FakeTarget()
  target.tickMs = 60
  const loop = new AutoscalerLoop({
    source,
    target,
    params: { baseScaleCount: 5, minContainers: 1, maxContainers: 1, windowMs: 1000 },
    log: createLogger('error', () => {}),
    intervalMs: 10
  })
  await loop.start()
  t.equal(target.ticks, 1, 'start() runs the first tick')
  await new Promise((resolve) => setTimeout(resolve, 400))
  await loop.close()
  const after = target.ticks
  t.ok(after >= 3 && after <= 8, `ticks paced by their own length: ${after} in 400 ms, not one every 10 ms`)
  t.equal(target.maxActive, 1, 'never two at once')
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.equal(target.ticks, after, 'no tick after close')
  await t.resolves(loop.close(), 'close is idempotent')
})
