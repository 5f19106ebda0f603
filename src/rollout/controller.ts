/**
 * Rollouts (main thread): the timer and the fleet calls around the pure policy
 * (src/rollout/policy.ts). One rollout at a time; a deploy (POST /rollout), or a start-up that
 * finds replicas of another image than --image, begins one. docs/deploy.md is the manual.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { ImageUnavailableError, RolloutRunningError, RolloutUnsupportedError } from '../errors'
import type { ContainerFleet } from '../fleet/containers'
import type { Logger } from '../log'
import type { CounterSampler } from '../metrics/sampler'
import type { Runtime } from '../runtime/types'
import { AnswerDeltas } from './answers'
import { decide, failsMoreThanOld, previousImage, type Answers, type RolloutParams, type RolloutPhase } from './policy'

export type RolloutOutcome = 'succeeded' | 'rolled-back' | 'stopped'
export const rolloutOutcomes: readonly RolloutOutcome[] = ['succeeded', 'rolled-back', 'stopped']

/** One line of a rollout's progress (what `symphony deploy` prints). */
export interface RolloutEvent {
  /** 1, 2, …: the deploy command asks for the events after the last one it printed. */
  readonly seq: number
  readonly at: string
  readonly step: 'begin' | 'started' | 'healthy' | 'draining' | 'drained' | 'rollback' | RolloutOutcome
  readonly port?: number
  readonly message: string
}

/** A rollout as GET /rollout and /status show it. */
export interface RolloutStatus {
  readonly id: string
  /** `deploy` (POST /rollout) or `restart` (replicas of another image found at start-up). */
  readonly origin: 'deploy' | 'restart'
  /** The image asked for, as given, and its ID. */
  readonly image: string
  readonly imageId: string
  /** The image ID a rollback restores. */
  readonly previousId: string | null
  readonly phase: RolloutPhase
  /** Why it rolled back, or null. */
  readonly reason: string | null
  readonly startedAt: string
  readonly endedAt: string | null
  readonly events: readonly RolloutEvent[]
}

export interface RolloutControllerOptions {
  readonly fleet: ContainerFleet
  readonly runtime: Runtime
  readonly sampler: CounterSampler
  readonly log: Logger
  readonly params: RolloutParams
  /** --image as given (its ID is what the fleet starts), or null with --runtime process. */
  readonly image: string | null
  /** Default 100 ms: how soon a new replica's failures are seen. */
  readonly intervalMs?: number
  readonly now?: () => number
}

/** The mutable side of a rollout in progress. */
interface Rollout {
  readonly id: string
  readonly origin: 'deploy' | 'restart'
  readonly image: string
  readonly imageId: string
  readonly previousId: string
  phase: RolloutPhase
  target: string
  pending: Map<number, number>
  nextStepAt: number
  reason: string | null
  readonly startedAt: number
  endedAt: number | null
  readonly events: RolloutEvent[]
  /** Ports this rollout drains, until they are gone. */
  readonly draining: Set<number>
  /** Pending ports whose turning healthy was told already (before the step that pairs them). */
  readonly announced: Set<number>
  /** Once rolling back: the image rolled back from, whose replicas leave as soon as they can. */
  bad: string | null
  /** Answers of new-version and old-version replicas over the ticks where both served. */
  fresh: Answers
  old: Answers
}

/** Keep this many past events per rollout (the deploy command reads them as they come). */
const MAX_EVENTS = 1000

export class RolloutController {
  readonly outcomes = new Map<RolloutOutcome, number>(rolloutOutcomes.map((o) => [o, 0]))
  readonly #o: Required<RolloutControllerOptions>
  readonly #deltas: AnswerDeltas
  #r: Rollout | null = null
  #count = 0
  #timer: Promise<void> | null = null
  readonly #abort = new AbortController()
  #ticking = false

  constructor (options: RolloutControllerOptions) {
    this.#o = { intervalMs: 100, now: Date.now, ...options }
    this.#deltas = new AnswerDeltas(options.sampler)
  }

  /** Resolve --image to its ID and have the fleet start that. Before fleet.start(). */
  async init (): Promise<void> {
    const { image, runtime, fleet } = this.#o
    if (image !== null && runtime.resolveImage !== undefined) fleet.setImage(await runtime.resolveImage(image))
  }

  /**
   * After the fleet adopted what runs: when a live replica runs another image than --image, roll
   * the fleet to it (a restart converges; issue 19). Then follow rollouts every interval.
   */
  start (): void {
    const { fleet, image } = this.#o
    const target = fleet.image
    if (image !== null && target !== undefined && fleet.view().some((m) => m.image !== null && m.image !== target)) {
      this.#begin(image, target, 'restart')
    }
    this.#timer ??= this.#loop()
  }

  /**
   * Begin a rollout to `ref` (POST /rollout).
   * @throws RolloutUnsupportedError with fixed backends or local processes (nothing to roll).
   * @throws RolloutRunningError while another rollout runs (naming its target).
   * @throws ImageUnavailableError when the image is absent and cannot be pulled; nothing changed.
   */
  async deploy (ref: string): Promise<RolloutStatus> {
    const { runtime } = this.#o
    if (this.#o.image === null || runtime.resolveImage === undefined) {
      throw new RolloutUnsupportedError('this symphony runs local processes (--runtime process), which have no image; deploys need --image with --runtime docker or swarm')
    }
    this.#refuseIfRunning()
    let id: string
    try {
      id = await runtime.resolveImage(ref)
    } catch (err) {
      if (err instanceof ImageUnavailableError) throw err
      throw new ImageUnavailableError(`cannot resolve image ${ref}: ${(err as Error).message}`, { cause: err })
    }
    // Checked again: another deploy may have begun while the image was being resolved.
    this.#refuseIfRunning()
    this.#begin(ref, id, 'deploy')
    return this.status() as RolloutStatus
  }

  /** The rollout in progress, or the last one; null before the first. */
  status (): RolloutStatus | null {
    const r = this.#r
    if (r === null) return null
    const iso = (ms: number | null): string | null => ms === null ? null : new Date(ms).toISOString()
    return {
      id: r.id,
      origin: r.origin,
      image: r.image,
      imageId: r.imageId,
      previousId: r.previousId,
      phase: r.phase,
      reason: r.reason,
      startedAt: iso(r.startedAt) as string,
      endedAt: iso(r.endedAt),
      events: r.events
    }
  }

  /** New replicas of the rollout in progress not yet healthy: the autoscaler does not count them. */
  surging (): number {
    return this.#r === null || !running(this.#r) ? 0 : this.#r.pending.size
  }

  /**
   * Stop following (SIGTERM): every slot keeps the one replica it has, of whichever version;
   * the next start with --image rolls the rest (docs/deploy.md). Idempotent.
   */
  async close (): Promise<void> {
    this.#abort.abort()
    await this.#timer
    const r = this.#r
    if (r !== null && running(r)) this.#end(r, 'stopped', 'stopped before the end (symphony is stopping); every slot keeps the replica it has, and the next start with --image rolls the rest')
  }

  #refuseIfRunning (): void {
    const r = this.#r
    if (r !== null && running(r)) {
      throw new RolloutRunningError(`a rollout to ${r.image} (${r.id}, ${r.phase}) is running; wait for it to end (GET /rollout) before deploying another image`)
    }
  }

  #begin (image: string, imageId: string, origin: 'deploy' | 'restart'): void {
    const { fleet, log } = this.#o
    const now = this.#o.now()
    const before = fleet.image
    const previousId = previousImage(fleet.view(), imageId) ?? before ?? imageId
    const r: Rollout = {
      id: `rollout-${++this.#count}-${now}`,
      origin,
      image,
      imageId,
      previousId,
      phase: 'rolling',
      target: imageId,
      pending: new Map(),
      nextStepAt: now,
      reason: null,
      bad: null,
      startedAt: now,
      endedAt: null,
      events: [],
      draining: new Set(),
      announced: new Set(),
      fresh: { requests: 0, failures: 0 },
      old: { requests: 0, failures: 0 }
    }
    this.#r = r
    fleet.setImage(imageId)
    fleet.setTrial(imageId)
    log.info('rollout begins', { event: 'rollout', id: r.id, origin, image, imageId, previousId })
    this.#event(r, 'begin', `rolling to ${image} (${short(imageId)}) from ${short(previousId)}`)
  }

  async #loop (): Promise<void> {
    const signal = this.#abort.signal
    while (!signal.aborted) {
      this.#tick()
      await sleep(this.#o.intervalMs, undefined, { signal }).catch(() => {})
    }
  }

  /** One step; never throws (a bug here is logged, the rollout goes on at the next tick). */
  #tick (): void {
    const r = this.#r
    if (r === null || !running(r) || this.#ticking) return
    this.#ticking = true
    try {
      this.#step(r)
    } catch (err) {
      this.#o.log.error('rollout step failed; retrying', { event: 'rollout-error', id: r.id, error: (err as Error).message })
    } finally {
      this.#ticking = false
    }
  }

  #step (r: Rollout): void {
    const { fleet, params } = this.#o
    const now = this.#o.now()
    const members = fleet.view()
    for (const port of r.draining) {
      if (!members.some((m) => m.port === port)) {
        r.draining.delete(port)
        this.#event(r, 'drained', `replica on port ${port} drained and removed`, port)
      }
    }
    // Told before the analysis, which may roll back in this very step: "taking traffic" comes first.
    for (const m of members) {
      if (r.pending.has(m.port) && m.phase === 'ready' && m.image === r.target && !r.announced.has(m.port)) {
        r.announced.add(m.port)
        this.#event(r, 'healthy', `replica on port ${m.port} healthy, taking traffic`, m.port, m.healthySince ?? now)
      }
    }
    if (r.phase === 'rolling' && this.#judge(r, members)) return
    // A start of the bad image begun just before the rollback shows up now: it leaves at once.
    if (r.bad !== null) this.#drainBad(r, members)
    const d = decide(members, r, params, now)
    if (d.kind === 'done') {
      if (r.draining.size === 0) this.#end(r, r.phase === 'rolling' ? 'succeeded' : 'rolled-back', r.phase === 'rolling' ? `every replica runs ${r.image}` : `rolled back: every replica runs ${short(r.target)} again (${r.reason ?? ''})`)
      return
    }
    if (d.kind === 'rollback') {
      this.#rollback(r, d.reason === 'deadline' ? `new replica on port ${d.port} not healthy within ${params.deadlineMs} ms` : `new replica on port ${d.port} crash-looping`)
      return
    }
    for (const port of d.lost) r.pending.delete(port)
    for (const port of d.healthy) {
      r.pending.delete(port)
      r.announced.delete(port)
      r.nextStepAt = now + params.paceMs
    }
    for (const port of d.drain) {
      if (!fleet.drainPort(port)) continue
      r.draining.add(port)
      this.#event(r, 'draining', `draining old replica on port ${port}`, port)
    }
    if (d.start > 0) {
      for (const port of fleet.scaleUp(d.start)) {
        r.pending.set(port, now)
        this.#event(r, 'started', `replica started on port ${port} (${short(r.target)})`, port)
      }
    }
  }

  /**
   * Compare, over this tick, the answers of healthy replicas of the new image with those of the
   * others; true when that rolled the rollout back.
   */
  #judge (r: Rollout, members: ReturnType<ContainerFleet['view']>): boolean {
    this.#deltas.sample()
    let fresh = { requests: 0, failures: 0 }
    let old = { requests: 0, failures: 0 }
    for (const m of members) {
      const d = this.#deltas.since(m.slot)
      if (m.phase !== 'ready' && m.phase !== 'draining') continue
      if (m.image === r.target) fresh = add(fresh, d)
      else old = add(old, d)
    }
    if (fresh.requests === 0) return false
    r.fresh = add(r.fresh, fresh)
    r.old = add(r.old, old)
    if (!failsMoreThanOld(r.fresh, r.old, this.#o.params)) return false
    this.#rollback(r, `new version failed ${r.fresh.failures} of ${r.fresh.requests} requests, the old one ${r.old.failures} of ${r.old.requests}`)
    return true
  }

  /**
   * Roll back: new replicas start on the previous image again; replicas of the bad one leave at
   * once when they do not serve, or when a replica of the previous image is there to serve;
   * the others are replaced one by one like any rollout's.
   */
  #rollback (r: Rollout, reason: string): void {
    const { fleet, log } = this.#o
    const bad = r.target
    r.phase = 'rolling-back'
    r.reason = reason
    r.target = r.previousId
    r.pending = new Map()
    r.announced.clear()
    r.nextStepAt = this.#o.now()
    r.bad = bad
    fleet.setImage(r.previousId)
    // The bad version's replicas stay on trial until drained: their 5xx still go to the old ones.
    fleet.setTrial(bad)
    log.warn('rollout failed; rolling back', { event: 'rollback', id: r.id, reason, image: r.image, previousId: r.previousId })
    this.#event(r, 'rollback', `rolling back to ${short(r.previousId)}: ${reason}`)
    this.#drainBad(r, fleet.view())
  }

  /**
   * Drain the replicas of the bad image that do not serve, and the serving ones too when a
   * replica of the previous image is there to take the traffic.
   */
  #drainBad (r: Rollout, members: ReturnType<ContainerFleet['view']>): void {
    const covered = members.some((m) => m.phase === 'ready' && m.image === r.previousId)
    for (const m of members) {
      if (m.image !== r.bad || (m.phase === 'ready' && !covered)) continue
      if (this.#o.fleet.drainPort(m.port)) {
        r.draining.add(m.port)
        this.#event(r, 'draining', `draining new replica on port ${m.port}`, m.port)
      }
    }
  }

  #end (r: Rollout, outcome: RolloutOutcome, message: string): void {
    this.#o.fleet.setTrial(null)
    r.phase = outcome
    r.endedAt = this.#o.now()
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1)
    const log = outcome === 'succeeded' ? this.#o.log.info.bind(this.#o.log) : this.#o.log.warn.bind(this.#o.log)
    log('rollout ended', { event: 'rollout-end', id: r.id, outcome, image: r.image, reason: r.reason, ms: r.endedAt - r.startedAt })
    this.#event(r, outcome, message)
  }

  /** Append a progress line; `at` defaults to now (a replica's turning healthy gives its own time). */
  #event (r: Rollout, step: RolloutEvent['step'], message: string, port?: number, at: number = this.#o.now()): void {
    const seq = r.events.length === 0 ? 1 : r.events[r.events.length - 1].seq + 1
    r.events.push({ seq, at: new Date(at).toISOString(), step, ...(port !== undefined ? { port } : {}), message })
    if (r.events.length > MAX_EVENTS) r.events.shift()
  }
}

function running (r: Rollout): boolean { return r.phase === 'rolling' || r.phase === 'rolling-back' }
function add (a: Answers, b: Answers): Answers { return { requests: a.requests + b.requests, failures: a.failures + b.failures } }
/** `sha256:0123456789ab` for messages. */
function short (id: string): string { return id.startsWith('sha256:') ? id.slice(0, 19) : id }
