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
   * Host port: the replica's identity (its name, labels and table slot). Docker publishes the
   * container port there; a local process listens on it.
   */
  readonly port: number
  /**
   * Where the proxy and the health checker connect: for Docker, the container's own address on
   * its network (the direct path), or the published host port where that address cannot be
   * reached (src/runtime/upstream.ts).
   */
  readonly address: Address
  /** Epoch ms the replica was started (for start-to-healthy timing). */
  readonly startedAt: number
  /** False once the container/process has exited. */
  readonly running: boolean
}

/** A TCP address to dial. */
export interface Address {
  readonly host: string
  readonly port: number
}

export type RuntimeEvent =
  | { readonly type: 'exit', readonly id: string, readonly port: number | null, readonly reason: 'die' | 'oom' | 'kill' }
  | { readonly type: 'disconnected', readonly error: Error }
  | { readonly type: 'reconnected' }

export interface Runtime {
  /** Human name for logs: 'docker' or 'process'. */
  readonly kind: string
  /** Fails with DockerUnavailableError / ImageUnavailableError before anything is started. */
  init(): Promise<void>
  /** Replicas of this service that exist now (adoption on start-up), running or not. */
  list(): Promise<Replica[]>
  /** Start one replica whose container port is published on the given host port. */
  start(port: number): Promise<Replica>
  /** Stop (SIGTERM, wait up to graceMs, then kill) and remove. Idempotent: an absent replica is fine. */
  stop(replica: Replica, graceMs: number): Promise<void>
  /** Exits and connection changes until the signal aborts. */
  events(signal: AbortSignal): AsyncIterable<RuntimeEvent>
  /** Release connections and child processes' handles (not the replicas themselves). */
  close(): Promise<void>
}
