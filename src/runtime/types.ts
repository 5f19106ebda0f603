/**
 * The seam between the control loops and whatever runs the service's replicas (Docker
 * containers, or local processes). The autoscaler and the healer know only this interface, as
 * Kubernetes' HPA knows pods through an injected lister.
 */
export interface Replica {
  /** Container id, or `pid:<n>` for the process runtime. */
  readonly id: string
  /** Readable name, e.g. `symphony-<service>-<port>`. */
  readonly name: string
  /**
   * The fleet's key for this replica: the number given to start(). The docker and process
   * runtimes use it as the host port (the container port is published there; a local process
   * listens on it); the swarm runtime, which publishes nothing, as base port + slot. It is what
   * the replica's name, labels, table slot, adoption, reconciliation and the metrics' `backend`
   * label go by.
   */
  readonly key: number
  /**
   * Where the proxy and the health checker connect: for Docker, the container's own address on
   * its network (the direct path), or the published host port where that address cannot be
   * reached (src/runtime/upstream.ts); for Swarm, the task's address on the overlay network.
   */
  readonly address: Address
  /** The machine the replica runs on, where the runtime spans several (swarm: the node's hostname). */
  readonly node?: string
  /** Epoch ms the replica was started (for start-to-healthy timing). */
  readonly startedAt: number
  /** False once the container/process has exited. */
  readonly running: boolean
  /**
   * The image the replica runs, where the runtime has images: docker, its ID (`sha256:…`);
   * swarm, the reference in its service's spec (the ID, or the registry digest `repo@sha256:…`
   * of a pulled image). Rollouts compare replicas by it, so a rebuilt `:latest` counts as new.
   */
  readonly image?: string
}

/** A TCP address to dial. */
export interface Address {
  readonly host: string
  readonly port: number
}

/** Why a replica stopped: its process exited, was killed or OOM-killed, or its node was lost (swarm). */
export type ExitReason = 'die' | 'oom' | 'kill' | 'node-down'

export type RuntimeEvent =
  | { readonly type: 'exit', readonly id: string, readonly port: number | null, readonly reason: ExitReason }
  | { readonly type: 'disconnected', readonly error: Error }
  | { readonly type: 'reconnected' }

export interface Runtime {
  /** Human name for logs: 'docker', 'process' or 'swarm'. */
  readonly kind: string
  /**
   * This process's address where other instances of symphony reach it, known after init() (the
   * swarm runtime: its address on the overlay); absent or null where that is this host.
   */
  readonly peerAddress?: string | null
  /** Fails with DockerUnavailableError / ImageUnavailableError before anything is started. */
  init(): Promise<void>
  /** Replicas of this service that exist now (adoption on start-up), running or not. */
  list(): Promise<Replica[]>
  /**
   * Start one replica for the fleet's `key` (docker, process: the host port it is published
   * on). Resolves with the replica's address once the runtime knows it. `image` (an ID from
   * resolveImage()) overrides the configured image: a rollout starts its replicas with it.
   */
  start(key: number, image?: string): Promise<Replica>
  /** Stop (SIGTERM, wait up to graceMs, then kill) and remove. Idempotent: an absent replica is fine. */
  stop(replica: Replica, graceMs: number): Promise<void>
  /**
   * The fleet is replacing this replica because it failed (a probe, an exit, a start timeout);
   * not called for drains or removals. The swarm runtime counts these per node
   * (src/runtime/suspect-nodes.ts); the others leave it out.
   */
  failed?(replica: Replica): void
  /**
   * A health probe of this replica timed out below --unhealthy-threshold. The swarm runtime counts
   * it towards its node's loss (src/runtime/suspect-nodes.ts).
   */
  doubted?(replica: Replica): void
  /**
   * Replicas (ids) doubted lately whose node is now suspected lost: the fleet replaces them at
   * once (reason `node-suspected`) instead of waiting for the threshold. Asked after each
   * doubt and failure.
   */
  lost?(): readonly string[]
  /** Exits and connection changes until the signal aborts. */
  events(signal: AbortSignal): AsyncIterable<RuntimeEvent>
  /**
   * The ID of image `ref` (a name, tag or ID), pulled first when absent (swarm: the reference
   * its replicas are created with, as Replica.image has it); the runtimes without images leave it out. Throws ImageUnavailableError when it is absent and cannot be pulled.
   */
  resolveImage?(ref: string): Promise<string>
  /** Release connections and child processes' handles (not the replicas themselves). */
  close(): Promise<void>
}
