import Docker from 'dockerode'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config } from '../config/types'
import { DockerUnavailableError, ImageUnavailableError, StartError, SwarmSetupError } from '../errors'
import { DOCKER_API_VERSION } from './docker'
import { LABEL_SERVICE, connectionOptions, serviceLabelFilter } from './names'
import { localAddressIn } from './overlay'
import {
  pinnedImage, slotFromLabels, slotServiceName, slotServiceSpec, slotState,
  type NodeRecord, type SlotState, type TaskRecord
} from './swarm-spec'
import type { ExitReason, Replica, Runtime, RuntimeEvent } from './types'
import { messageOf, statusOf } from './engine-errors'
import { pullImage } from './pull'
import type { Logger } from '../log'
import { DEFAULT_SUSPICION, avoidConstraints, suspectNodes, type NodeFailure, type SuspicionParams } from './suspect-nodes'

/** The parts of the configuration the Swarm runtime needs. */
export type SwarmRuntimeConfig = Pick<Config,
'service' | 'containerPort' | 'env' | 'command' | 'memory' | 'cpus' | 'constraints' | 'placementPrefs' | 'basePort'> & {
  readonly image: string
  readonly network: string
}

export interface SwarmRuntimeOptions {
  /** Engine address in DOCKER_HOST syntax; undefined leaves it to dockerode (DOCKER_HOST, default socket). */
  readonly dockerHost?: string
  /** How often services, tasks and nodes are listed to notice exits and lost nodes. Default 1 s. */
  readonly pollMs?: number
  /** Longest wait for a new replica's task to run. Default 60 s. */
  readonly startWaitMs?: number
  /** Grace the node gives a removed replica's process between SIGTERM and SIGKILL. Default 10 s. */
  readonly stopGraceMs?: number
  /**
   * Refuse to start unless this process has an address on the overlay (true by default):
   * replicas are dialled there. The runtime's own tests, which drive the control plane from
   * the host and never dial a replica, turn it off.
   */
  readonly requireAttached?: boolean
  /** Where suspected and cleared nodes are told (src/runtime/suspect-nodes.ts). */
  readonly log?: Logger
  /** When a node is suspected, and for how long at most. Default DEFAULT_SUSPICION. */
  readonly suspicion?: SuspicionParams
}

const PING_TIMEOUT_MS = 5000
/** Longest a deploy waits for the manager to pull an image it does not have. */
const PULL_TIMEOUT_MS = 300_000
const START_POLL_MS = 250
const BACKOFF_MAX_MS = 5000
/** A new replica whose task keeps landing on suspected nodes is created again at most this often. */
const MAX_MOVES = 3

interface ServiceRecord {
  readonly ID: string
  readonly CreatedAt?: string
  readonly Spec?: {
    readonly Name?: string
    readonly Labels?: Record<string, string>
    readonly TaskTemplate?: { readonly ContainerSpec?: { readonly Image?: string } }
  }
}

/** One replica service as the last listing saw it. */
interface Listed {
  readonly id: string
  readonly name: string
  readonly key: number
  /** The image reference in the service's spec: what its task runs, and all it can ever run. */
  readonly image: string | null
  readonly state: SlotState
}

/**
 * Replicas as Swarm services, one per slot (`<service>-<slot>`, `replicas: 1`), on an overlay
 * network, placed by Swarm across the cluster's nodes. symphony, on a manager, dials each task
 * at its overlay address; nothing is published on any node. Swarm never restarts or reschedules
 * a replica (restart condition none): exits and lost nodes reach the fleet as `exit` events,
 * from a poll of services, tasks and nodes, and the fleet replaces exactly that slot.
 */
export class SwarmRuntime implements Runtime {
  readonly kind = 'swarm'
  readonly #config: SwarmRuntimeConfig
  readonly #docker: Docker
  readonly #pollMs: number
  readonly #startWaitMs: number
  readonly #stopGraceMs: number
  readonly #requireAttached: boolean
  readonly #closed = new AbortController()
  readonly #log: Logger | null
  readonly #suspicion: SuspicionParams
  /** Replicas seen running: service id → node id (what the node-loss policy counts per node). */
  readonly #placed = new Map<string, string>()
  /** Replicas reported failed lately: service id → node and time. Pruned after the window. */
  readonly #failures = new Map<string, NodeFailure>()
  /** Replicas whose probe timed out below the threshold lately: service id → node and time. */
  readonly #doubts = new Map<string, NodeFailure>()
  /** Swarm's view of each node, from the last listing: id → Status.State, id → hostname. */
  #nodeStates = new Map<string, string>()
  #nodeNames = new Map<string, string>()
  /** Nodes replacements are kept away from: node id → epoch ms suspected. */
  #suspects = new Map<string, number>()
  /** Set by init(): the overlay's id (task attachments name networks by id) and the pinned image. */
  #networkId = ''
  #image = ''
  #peerAddress: string | null = null

  constructor (config: SwarmRuntimeConfig, options: SwarmRuntimeOptions = {}) {
    this.#config = config
    this.#docker = new Docker({ ...connectionOptions(options.dockerHost), version: DOCKER_API_VERSION })
    this.#pollMs = options.pollMs ?? 1000
    this.#startWaitMs = options.startWaitMs ?? 60_000
    this.#stopGraceMs = options.stopGraceMs ?? 10_000
    this.#requireAttached = options.requireAttached ?? true
    this.#log = options.log ?? null
    this.#suspicion = options.suspicion ?? DEFAULT_SUSPICION
  }

  /** The nodes replacements are kept away from now (node ids). */
  get suspects (): string[] { return [...this.#suspects.keys()] }

  /** This process's address on the overlay (where other tasks reach it), once init() found it. */
  get peerAddress (): string | null { return this.#peerAddress }

  /** The overlay network's id, once init() found it. */
  get networkId (): string { return this.#networkId }

  /** The image reference replicas are created with (an id or a digest), once init() resolved it. */
  get image (): string { return this.#image }

  /**
   * Checks, in order: the engine answers; it is a Swarm manager; --network is an overlay;
   * this process is attached to it; the image, which is pinned by digest or id when present here.
   * @throws DockerUnavailableError, SwarmSetupError, ImageUnavailableError
   */
  async init (): Promise<void> {
    const docker = this.#docker
    const cfg = this.#config
    try {
      await (docker.ping as (opts: object) => Promise<unknown>).call(docker, { abortSignal: AbortSignal.timeout(PING_TIMEOUT_MS) })
    } catch (err) {
      throw new DockerUnavailableError(`Docker engine not reachable (${messageOf(err)}): mount the manager's socket into symphony's container (-v /var/run/docker.sock:/var/run/docker.sock) or set DOCKER_HOST`, { cause: err })
    }
    const info = await docker.info() as { Swarm?: { LocalNodeState?: string, ControlAvailable?: boolean } }
    if (info.Swarm?.LocalNodeState !== 'active' || info.Swarm.ControlAvailable !== true) {
      const state = info.Swarm?.LocalNodeState === 'active' ? 'a worker' : `not in a swarm (${info.Swarm?.LocalNodeState ?? 'unknown'})`
      throw new SwarmSetupError(`--runtime swarm needs a Swarm manager, and this engine is ${state}: run symphony on a manager node (docker swarm init, or the constraint node.role==manager)`)
    }
    let net: { Id: string, Driver?: string, Scope?: string, IPAM?: { Config?: Array<{ Subnet?: string }> } }
    try {
      net = await docker.getNetwork(cfg.network).inspect()
    } catch (err) {
      throw new SwarmSetupError(`--network ${cfg.network}: ${statusOf(err) === 404 ? 'no such network' : messageOf(err)}; create it with docker network create -d overlay --attachable ${cfg.network}`, { cause: err })
    }
    if (net.Driver !== 'overlay' || net.Scope !== 'swarm') {
      throw new SwarmSetupError(`--network ${cfg.network} is a ${net.Driver ?? '?'} network (scope ${net.Scope ?? '?'}); --runtime swarm needs an overlay: docker network create -d overlay --attachable NAME`)
    }
    this.#networkId = net.Id
    const subnets = (net.IPAM?.Config ?? []).map((c) => c.Subnet ?? '').filter((s) => s !== '')
    this.#peerAddress = localAddressIn(subnets)
    if (this.#requireAttached && this.#peerAddress === null) {
      throw new SwarmSetupError(`symphony is not attached to --network ${cfg.network} (${subnets.join(', ')}), where it reaches its replicas: run it as a container or service on that network (docs/past-one-host.md)`)
    }
    try {
      this.#image = pinnedImage(await docker.getImage(cfg.image).inspect())
    } catch (err) {
      if (statusOf(err) !== 404) {
        throw new ImageUnavailableError(`cannot inspect image ${cfg.image}: ${messageOf(err)}`, { cause: err })
      }
      // Not on this manager: the nodes that run replicas pull it from its registry themselves.
      this.#image = cfg.image
    }
  }

  /**
   * The reference replicas of image `ref` are created with, which is also what rollouts compare
   * (docs/deploy.md#how-images-are-compared): the image's registry digest, or its ID when it has
   * none, as init() pins --image. `ref` absent on this manager is pulled here first, so that it
   * is pinned, and refused when that fails; except --image when init() found it absent too: it
   * stays a name, which the nodes pull themselves (docs/past-one-host.md).
   * @throws ImageUnavailableError when the image is absent here and cannot be pulled.
   */
  async resolveImage (ref: string): Promise<string> {
    const docker = this.#docker
    try {
      // Inspected each time: a tag rebuilt on the manager since init() is a new version.
      return pinnedImage(await docker.getImage(ref).inspect())
    } catch (err) {
      if (statusOf(err) !== 404) throw new ImageUnavailableError(`cannot inspect image ${ref}: ${messageOf(err)}`, { cause: err })
    }
    if (ref === this.#config.image && this.#image === ref) return ref
    try {
      await pullImage(docker, ref, AbortSignal.any([AbortSignal.timeout(PULL_TIMEOUT_MS), this.#closed.signal]))
      return pinnedImage(await docker.getImage(ref).inspect())
    } catch (err) {
      throw new ImageUnavailableError(
        `image ${ref} is not on this Swarm manager and could not be pulled (${messageOf(err)}): ` +
        'load it on the manager and every node (docker save | docker load), or push it to a registry the manager can reach', { cause: err })
    }
  }

  /** Every replica service of this symphony service, by label; running = its task alive on a live node. */
  async list (): Promise<Replica[]> {
    const replicas: Replica[] = []
    for (const s of await this.#snapshot()) {
      // Alive but not yet given an overlay address (still being scheduled): the next re-list
      // adopts it. Dead ones are listed with no address, so that reconciliation removes them.
      if (s.state.alive && s.state.address === null) continue
      replicas.push(this.#replica(s))
    }
    return replicas
  }

  /**
   * Create the service of the slot `key - basePort` and wait until its task runs and has its
   * overlay address (the replica's address is not known before).
   * @throws StartError when the service cannot be created, its task fails (the task's error is in
   *   the message: "No such image", "no suitable node"), or it does not run within startWaitMs.
   *   The service is removed again in each case.
   * `image` (a reference from resolveImage()) replaces the pinned --image: a rollout's replicas.
   */
  async start (key: number, image: string = this.#image === '' ? this.#config.image : this.#image): Promise<Replica> {
    const cfg = this.#config
    const name = slotServiceName(cfg.service, key - cfg.basePort)
    await this.#removeLeftover(name)
    const deadline = Date.now() + this.#startWaitMs
    for (let moves = 0; ; moves++) {
      const id = await this.#create(name, key - cfg.basePort, image)
      let last: SlotState | null
      try {
        last = await this.#waitRunning(id, name, deadline, moves < MAX_MOVES)
      } catch (err) {
        await this.#removeService(id).catch(() => {})
        throw err instanceof StartError ? err : new StartError(`replica ${name}: ${messageOf(err)}`, { cause: err })
      }
      if (last === null) {
        // Its task went to a node suspected lost since it was created: there it would wait until
        // Swarm marks the node down. Create it again, now with the node excluded.
        await this.#removeService(id).catch(() => {})
        await this.#removeLeftover(name)
        continue
      }
      const nodeId = last.task?.NodeID
      if (nodeId !== undefined) this.#placed.set(id, nodeId)
      const node = nodeId !== undefined ? this.#nodeNames.get(nodeId) ?? (await this.#nodes().catch(() => new Map<string, NodeRecord>())).get(nodeId)?.Description?.Hostname : undefined
      return {
        id,
        name,
        key,
        address: { host: last.address ?? '', port: cfg.containerPort },
        startedAt: Date.now(),
        running: true,
        image,
        ...(node !== undefined ? { node } : {})
      }
    }
  }

  /**
   * A replica failed (the fleet is replacing it): what the node-loss policy counts. Its node is
   * the one it was last seen running on.
   */
  failed (replica: Replica): void {
    const node = this.#placed.get(replica.id)
    if (node === undefined) return
    this.#failures.set(replica.id, { node, at: Date.now() })
    this.#observe()
  }

  /** A probe of the replica timed out below the threshold: an early sign of its node's loss. */
  doubted (replica: Replica): void {
    const node = this.#placed.get(replica.id)
    if (node === undefined) return
    this.#doubts.set(replica.id, { node, at: Date.now() })
    this.#observe()
  }

  /** Replicas doubted within the window, not failed, on a suspected node: replace them now. */
  lost (): string[] {
    const now = Date.now()
    const out: string[] = []
    for (const [id, d] of this.#doubts) {
      if (now - d.at <= this.#suspicion.windowMs && this.#suspects.has(d.node) && !this.#failures.has(id)) out.push(id)
    }
    return out
  }

  /**
   * Create the slot's service, with the user's constraints and one excluding each suspected node.
   * 409: a service of that name is still being removed (a replacement right after a stop).
   */
  async #create (name: string, slot: number, image: string): Promise<string> {
    const cfg = this.#config
    const constraints = [...cfg.constraints, ...avoidConstraints(this.#suspects.keys())]
    const spec = slotServiceSpec({ ...cfg, constraints, image, stopGraceMs: this.#stopGraceMs }, slot)
    for (let attempt = 0; ; attempt++) {
      try {
        const created = await this.#docker.createService(spec) as unknown as { id?: string, ID?: string }
        const id = created.id ?? created.ID ?? null
        if (id === null) throw new Error('the engine returned no service id')
        return id
      } catch (err) {
        if (statusOf(err) !== 409 || attempt >= 10) throw new StartError(`cannot create service ${name}: ${messageOf(err)}`, { cause: err })
        await sleep(200)
        await this.#removeLeftover(name)
      }
    }
  }

  /**
   * Wait until the service's task runs and has its overlay address. Null when `mayMove` and the
   * task, not yet running, sits on a node suspected lost.
   * @throws StartError when the task fails or the deadline passes.
   */
  async #waitRunning (id: string, name: string, deadline: number, mayMove: boolean): Promise<SlotState | null> {
    let seen = ''
    for (;;) {
      const tasks = await this.#docker.listTasks({ filters: { service: [id] } }) as TaskRecord[]
      const last = slotState(tasks, new Map(), this.#networkId)
      const state = `${last.task?.Status?.State ?? 'none'}@${last.task?.NodeID ?? ''}`
      if (state !== seen) {
        // Where a slow start spends its time (scheduling, the node's pull, the overlay's set-up).
        this.#log?.debug('new replica\'s task', { event: 'task-state', service: name, state: last.task?.Status?.State ?? 'none', node: this.#nodeNames.get(last.task?.NodeID ?? '') ?? last.task?.NodeID ?? null })
        seen = state
      }
      if (last.running && last.address !== null) return last
      if (last.task !== null && !last.alive) throw new StartError(`replica ${name} did not start: its task is ${last.task.Status?.State ?? '?'}${last.error !== null ? ` (${last.error})` : ''}`)
      const nodeId = last.task?.NodeID
      if (mayMove && nodeId !== undefined && this.#suspects.has(nodeId)) {
        this.#log?.warn('new replica placed on a node suspected lost; creating it again elsewhere', { event: 'replica-moved', service: name, node: this.#nodeNames.get(nodeId) ?? nodeId })
        return null
      }
      if (Date.now() > deadline) throw new StartError(`replica ${name} not running after ${this.#startWaitMs} ms (task ${last.task?.Status?.State ?? 'not created'}${last.error !== null ? `: ${last.error}` : ''})`)
      await sleep(START_POLL_MS, undefined, { signal: this.#closed.signal })
    }
  }

  /** Apply the node-loss policy to what is known now; say when a node is suspected or cleared. */
  #observe (): void {
    const now = Date.now()
    for (const [id, f] of this.#failures) if (now - f.at > this.#suspicion.windowMs) this.#failures.delete(id)
    for (const [id, f] of this.#doubts) if (now - f.at > this.#suspicion.windowMs) this.#doubts.delete(id)
    const next = suspectNodes({ now, placed: this.#placed, failures: this.#failures, doubts: this.#doubts, nodeStates: this.#nodeStates, suspects: this.#suspects }, this.#suspicion)
    for (const [node] of next) {
      if (this.#suspects.has(node)) continue
      this.#log?.warn('every replica on a node failed at once; placing replacements on other nodes until Swarm has its own view', { event: 'node-suspected', node: this.#nodeNames.get(node) ?? node, nodeId: node, holdMs: this.#suspicion.holdMs })
    }
    for (const [node, since] of this.#suspects) {
      if (next.has(node)) continue
      this.#log?.info('node no longer suspected', { event: 'node-cleared', node: this.#nodeNames.get(node) ?? node, nodeId: node, swarmState: this.#nodeStates.get(node) ?? 'absent', afterMs: now - since })
    }
    this.#suspects = next
  }

  /**
   * Remove the replica's service. The node's engine then stops its task (SIGTERM, the service's
   * stop grace period, SIGKILL) on its own: a service's grace is fixed when it is created,
   * because changing it would roll the task, so `graceMs` is not used here. A replacement may
   * start meanwhile; the old task no longer receives requests. An absent service is fine.
   */
  async stop (replica: Replica, _graceMs: number): Promise<void> {
    await this.#removeService(replica.id)
    this.#placed.delete(replica.id)
  }

  /**
   * `exit` for every replica service that was seen alive and no longer is: its task ended (reason
   * die/kill/oom), its node is down or disconnected (`node-down`), or the service vanished.
   * Swarm's event stream says nothing of tasks, and a container's exit on another node is not
   * in this engine's stream, so this polls every pollMs. A failed poll is `disconnected`; the
   * next success `reconnected`, after a backoff doubling up to 5 s.
   */
  async * events (signal: AbortSignal): AsyncGenerator<RuntimeEvent> {
    const stop = AbortSignal.any([signal, this.#closed.signal])
    /** Services seen alive: id → key. */
    const alive = new Map<string, number>()
    let connected = true
    let wait = this.#pollMs
    while (!stop.aborted) {
      let listed: Listed[] | null = null
      try {
        listed = await this.#snapshot(stop)
      } catch (err) {
        if (stop.aborted) return
        if (connected) {
          connected = false
          yield { type: 'disconnected', error: err instanceof Error ? err : new Error(String(err)) }
        }
        wait = Math.min(wait * 2, BACKOFF_MAX_MS)
      }
      if (listed !== null) {
        if (!connected) {
          connected = true
          yield { type: 'reconnected' }
        }
        wait = this.#pollMs
        const seen = new Set<string>()
        for (const s of listed) {
          seen.add(s.id)
          if (s.state.alive) {
            alive.set(s.id, s.key)
          } else if (alive.delete(s.id)) {
            yield { type: 'exit', id: s.id, port: s.key, reason: s.state.reason ?? 'die' }
          }
        }
        for (const [id, key] of alive) {
          if (seen.has(id)) continue
          alive.delete(id)
          const reason: ExitReason = 'die'
          yield { type: 'exit', id, port: key, reason }
        }
      }
      try {
        await sleep(wait, undefined, { signal: stop })
      } catch {
        return
      }
    }
  }

  /** Ends open events() streams and start() waits. Replicas keep running. Idempotent. */
  async close (): Promise<void> {
    this.#closed.abort()
  }

  /** This service's replica services with their tasks and nodes: three list calls. */
  async #snapshot (signal?: AbortSignal): Promise<Listed[]> {
    const docker = this.#docker
    const opts = signal !== undefined ? { abortSignal: signal } : {}
    const services = await docker.listServices({ filters: { label: serviceLabelFilter(this.#config.service) }, ...opts }) as unknown as ServiceRecord[]
    if (services.length === 0) return []
    const [tasks, nodes] = await Promise.all([
      docker.listTasks({ filters: { service: services.map((s) => s.ID) }, ...opts }) as Promise<TaskRecord[]>,
      this.#nodes(signal)
    ])
    const byService = new Map<string, TaskRecord[]>()
    for (const t of tasks) {
      const list = byService.get(t.ServiceID)
      if (list === undefined) byService.set(t.ServiceID, [t])
      else list.push(t)
    }
    const out: Listed[] = []
    for (const s of services) {
      const slot = slotFromLabels(s.Spec?.Labels)
      if (slot === null) continue
      out.push({
        id: s.ID,
        name: s.Spec?.Name ?? '',
        key: this.#config.basePort + slot,
        image: s.Spec?.TaskTemplate?.ContainerSpec?.Image ?? null,
        state: slotState(byService.get(s.ID) ?? [], nodes, this.#networkId)
      })
    }
    this.#noteListing(out, nodes)
    return out
  }

  /** Swarm's node states and where each running replica is, for the node-loss policy. */
  #noteListing (listed: readonly Listed[], nodes: ReadonlyMap<string, NodeRecord>): void {
    this.#nodeStates = new Map([...nodes].map(([id, n]) => [id, n.Status?.State ?? 'unknown']))
    this.#nodeNames = new Map([...nodes].map(([id, n]) => [id, n.Description?.Hostname ?? id]))
    const listedIds = new Set(listed.map((l) => l.id))
    for (const id of this.#placed.keys()) if (!listedIds.has(id)) this.#placed.delete(id)
    for (const l of listed) {
      const nodeId = l.state.task?.NodeID
      if (l.state.running && nodeId !== undefined) this.#placed.set(l.id, nodeId)
    }
    this.#observe()
  }

  async #nodes (signal?: AbortSignal): Promise<Map<string, NodeRecord>> {
    const nodes = await this.#docker.listNodes(signal !== undefined ? { abortSignal: signal } as object : {}) as NodeRecord[]
    return new Map(nodes.map((n) => [n.ID, n]))
  }

  #replica (s: Listed): Replica {
    const created = Date.parse(s.state.task?.CreatedAt ?? '')
    return {
      id: s.id,
      name: s.name,
      key: s.key,
      address: { host: s.state.address ?? '', port: this.#config.containerPort },
      startedAt: Number.isFinite(created) ? created : Date.now(),
      running: s.state.alive,
      ...(s.image !== null ? { image: s.image } : {}),
      ...(s.state.node !== null ? { node: s.state.node } : {})
    }
  }

  /**
   * Remove a service of this name left from an earlier replica. One that symphony did not create
   * (no labels of this service) is never touched: starting fails instead.
   */
  async #removeLeftover (name: string): Promise<void> {
    let found: ServiceRecord
    try {
      found = await this.#docker.getService(name).inspect() as ServiceRecord
    } catch (err) {
      if (statusOf(err) === 404) return
      throw new StartError(`cannot inspect service ${name}: ${messageOf(err)}`, { cause: err })
    }
    if (slotFromLabels(found.Spec?.Labels) === null || found.Spec?.Labels?.[LABEL_SERVICE] !== this.#config.service) {
      throw new StartError(`a Swarm service named ${name} exists and was not created by symphony for ${this.#config.service}: remove it or choose another --service`)
    }
    await this.#removeService(found.ID)
  }

  async #removeService (id: string): Promise<void> {
    try {
      await this.#docker.getService(id).remove()
    } catch (err) {
      if (statusOf(err) !== 404) throw err
    }
  }
}
