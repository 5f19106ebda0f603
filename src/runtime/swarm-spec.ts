/**
 * The pure half of the Swarm runtime: the service spec of one replica slot, and what the
 * engine's service, task and node records say about a replica. Kept apart from the I/O
 * (swarm.ts) so that tests reach every rule without a swarm.
 *
 * One Swarm service per replica slot, each with `replicas: 1` (docs/past-one-host.md explains
 * why): Swarm's API can only roll a service's tasks as a whole, so a service per slot is what
 * lets symphony replace or drain exactly one replica.
 */
import type Docker from 'dockerode'
import { LABEL_MANAGED, LABEL_SERVICE, splitCommand } from './names'
import { overlayAddress, type AttachmentRecord } from './overlay'

/** Slot label on every replica service (and on its containers). */
export const LABEL_SLOT = 'io.symphony.slot'

/** What a replica service needs from the configuration. */
export interface SwarmServiceConfig {
  readonly service: string
  /** Image reference as tasks get it: an image id or a `repo@sha256:` digest when known. */
  readonly image: string
  readonly containerPort: number
  readonly env: readonly string[]
  readonly command: string | null
  /** Overlay network name or id. */
  readonly network: string
  readonly memory: number
  readonly cpus: number
  readonly constraints: readonly string[]
  readonly placementPrefs: readonly string[]
  /** SIGTERM-to-SIGKILL grace the node's engine gives a task when its service is removed. */
  readonly stopGraceMs: number
}

/** `<service>-<slot>`: the Swarm service of one slot (also its DNS name on the overlay). */
export function slotServiceName (service: string, slot: number): string {
  return `${service}-${slot}`
}

/** Labels of the replica service of `slot`. */
export function slotLabels (service: string, slot: number): Record<string, string> {
  return { [LABEL_MANAGED]: 'true', [LABEL_SERVICE]: service, [LABEL_SLOT]: String(slot) }
}

/** The slot recorded in a service's labels, or null when absent or malformed. */
export function slotFromLabels (labels: Record<string, string> | undefined): number | null {
  const raw = labels?.[LABEL_SLOT]
  if (raw === undefined || !/^\d{1,5}$/.test(raw)) return null
  return Number(raw)
}

/**
 * The spec of the service that runs `slot`. Restart condition `none`: the task is never
 * restarted or rescheduled by Swarm (not after a crash, not after its node is lost), so the one
 * deciding about replacements is symphony's healer, which replaces exactly the failed slot, as
 * the docker runtime does with RestartPolicy "no". Endpoint mode dnsrr: no virtual IP (which
 * needs IPVS) and no published port; symphony dials the task's overlay address.
 */
export function slotServiceSpec (c: SwarmServiceConfig, slot: number): Docker.CreateServiceOptions {
  const labels = slotLabels(c.service, slot)
  const resources: { Limits?: { MemoryBytes?: number, NanoCPUs?: number } } = {}
  if (c.memory > 0 || c.cpus > 0) {
    resources.Limits = {
      ...(c.memory > 0 ? { MemoryBytes: c.memory } : {}),
      ...(c.cpus > 0 ? { NanoCPUs: Math.round(c.cpus * 1e9) } : {})
    }
  }
  return {
    Name: slotServiceName(c.service, slot),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: c.image,
        Env: [...c.env],
        ...(c.command !== null ? { Args: splitCommand(c.command) } : {}),
        // On the containers too: `docker ps --filter label=…` on any node finds them.
        Labels: labels,
        // Nanoseconds, the API's unit for durations.
        StopGracePeriod: Math.max(0, Math.round(c.stopGraceMs)) * 1_000_000
      },
      Resources: resources,
      RestartPolicy: { Condition: 'none', MaxAttempts: 0 },
      Placement: {
        Constraints: [...c.constraints],
        Preferences: c.placementPrefs.map((p) => ({ Spread: { SpreadDescriptor: p.slice('spread='.length) } }))
      },
      Networks: [{ Target: c.network }]
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: 'dnsrr' }
  }
}

/** The fields of a task the runtime reads (Engine API 1.41 `GET /tasks`). */
export interface TaskRecord {
  readonly ID: string
  readonly ServiceID: string
  readonly NodeID?: string
  readonly CreatedAt?: string
  readonly DesiredState?: string
  readonly Status?: { readonly State?: string, readonly Err?: string, readonly ContainerStatus?: { readonly ExitCode?: number } }
  readonly NetworksAttachments?: readonly AttachmentRecord[]
}

/** The fields of a node the runtime reads (`GET /nodes`). */
export interface NodeRecord {
  readonly ID: string
  readonly Description?: { readonly Hostname?: string }
  readonly Status?: { readonly State?: string }
}

/** Task states after which the task never runs again. */
const TERMINAL = new Set(['complete', 'shutdown', 'failed', 'rejected', 'orphaned', 'remove'])

/** Node states in which a node's tasks are not reachable. */
const NODE_LOST = new Set(['down', 'disconnected'])

/** What a service's tasks, and the nodes they sit on, say about its replica. */
export interface SlotState {
  /** The task that is (or was last) the replica; null before Swarm created one. */
  readonly task: TaskRecord | null
  /** Running, or on its way to running, on a node that is up. */
  readonly alive: boolean
  /** Status.State is `running` (and the node is up). */
  readonly running: boolean
  /** Why it is not alive, when it is not: the exit reason a runtime event carries. */
  readonly reason: 'die' | 'kill' | 'oom' | 'node-down' | null
  /** Hostname of the task's node, when known. */
  readonly node: string | null
  /** The task's address on the network `networkId`, when allocated. */
  readonly address: string | null
  /** The task's error text (e.g. "No such image"), for start failures. */
  readonly error: string | null
}

/**
 * The replica of one service. With restart condition none a service has one task; should there
 * be more (a user's `docker service update --force`), the one meant to run wins, else the newest.
 */
export function slotState (tasks: readonly TaskRecord[], nodes: ReadonlyMap<string, NodeRecord>, networkId: string): SlotState {
  let task: TaskRecord | null = null
  for (const t of tasks) {
    if (task === null) { task = t; continue }
    const want = (x: TaskRecord): number => x.DesiredState === 'running' ? 1 : 0
    if (want(t) > want(task) || (want(t) === want(task) && (t.CreatedAt ?? '') > (task.CreatedAt ?? ''))) task = t
  }
  if (task === null) return { task, alive: false, running: false, reason: null, node: null, address: null, error: null }
  const node = task.NodeID !== undefined ? nodes.get(task.NodeID) : undefined
  const nodeLost = node !== undefined && NODE_LOST.has(node.Status?.State ?? '')
  const state = task.Status?.State ?? 'new'
  const alive = task.DesiredState === 'running' && !TERMINAL.has(state) && !nodeLost
  const exitCode = task.Status?.ContainerStatus?.ExitCode
  let reason: SlotState['reason'] = null
  if (!alive) {
    if (nodeLost) reason = 'node-down'
    else if (exitCode === 137) reason = 'kill'
    else if (/oom/i.test(task.Status?.Err ?? '')) reason = 'oom'
    else reason = 'die'
  }
  return {
    task,
    alive,
    running: alive && state === 'running',
    reason,
    node: node?.Description?.Hostname ?? null,
    address: overlayAddress(task.NetworksAttachments, networkId),
    error: task.Status?.Err !== undefined && task.Status.Err !== '' ? task.Status.Err : null
  }
}

/**
 * The image reference replicas get. A local image pulled from a registry is pinned by its
 * digest (every node pulls exactly it, and a node that has it does not pull again); an image
 * built or loaded here has no digest and is referenced by its id, which `docker save | load`
 * keeps, so that no node tries a registry for it (with a tag, every task start would try one).
 */
export function pinnedImage (inspect: { readonly Id: string, readonly RepoDigests?: readonly string[] }): string {
  return inspect.RepoDigests?.[0] ?? inspect.Id
}
