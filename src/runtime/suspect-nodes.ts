/**
 * Which Swarm nodes to keep replacements away from (issue 23, point 5): the pure policy, with
 * time and observations as arguments. The I/O (noting placements, failures and Swarm's node
 * states, adding the placement constraint) is in swarm.ts.
 *
 * With Swarm's default dispatcher heartbeat (5 s) a node whose engine is gone stays `ready` in
 * Swarm's view for 14-18 s, and Swarm keeps placing new tasks there, where they never run. When
 * every replica on one node fails within a short window while a replica on another node still
 * serves, symphony does not wait for Swarm: it suspects that node and creates replacements with
 * the constraint `node.id!=<id>`. The suspicion ends after a hold time, or as soon as Swarm's view
 * of the node changes from `ready` (down or disconnected: Swarm places nothing there itself; an
 * absent node has left the swarm).
 *
 * A replica whose health probe timed out but not yet --unhealthy-threshold times in a row is
 * doubted: it is not failed (it serves on, and is replaced only at the threshold), but for this
 * policy a doubt counts as a failure of its node-mates' node, as long as at least one replica on
 * that node has failed for real. A node whose engine is gone often shows both at once: replicas
 * whose connections are refused, and one whose connections hang until three probe timeouts
 * have passed; waiting for the third timeout before suspecting the node sent the refused ones'
 * replacements to it (bench/results/node-loss.md). A doubt older than the window is ignored.
 *
 * A node whose only replica fails (an application crash) is suspected too, when another node
 * runs one: its replacement then starts elsewhere, which costs nothing, for at most the hold.
 * Never is every node with a serving replica suspected: the node that runs the serving replica
 * meets the user's constraints, so the constraint never leaves a replacement nowhere to go.
 */

/** A replica reported failed (by a probe, an exit, a start timeout) and the node it ran on. */
export interface NodeFailure {
  readonly node: string
  /** Epoch ms. */
  readonly at: number
}

export interface SuspicionInput {
  readonly now: number
  /** Replicas seen running and not yet removed: replica (service) id → node id. */
  readonly placed: ReadonlyMap<string, string>
  /** Failures reported: replica (service) id → failure. Older than the window: ignored. */
  readonly failures: ReadonlyMap<string, NodeFailure>
  /** Probe timeouts below the threshold: replica (service) id → its node and when. Optional. */
  readonly doubts?: ReadonlyMap<string, NodeFailure>
  /** Swarm's state of each node it lists (`Status.State`: ready, down, disconnected, unknown). */
  readonly nodeStates: ReadonlyMap<string, string>
  /** The suspects so far: node id → epoch ms it was suspected. */
  readonly suspects: ReadonlyMap<string, number>
}

export interface SuspicionParams {
  /** All of a node's replicas must have failed within this long. Default 2 s. */
  readonly windowMs: number
  /** A suspicion ends after this long at the latest. Default 60 s. */
  readonly holdMs: number
}

export const DEFAULT_SUSPICION: SuspicionParams = { windowMs: 2000, holdMs: 60_000 }

/** The suspects after this observation: node id → epoch ms it was suspected. */
export function suspectNodes (input: SuspicionInput, params: SuspicionParams = DEFAULT_SUSPICION): Map<string, number> {
  const { now, placed, failures, nodeStates } = input
  const ready = (node: string): boolean => nodeStates.get(node) === 'ready'
  const out = new Map<string, number>()
  for (const [node, since] of input.suspects) {
    if (now - since < params.holdMs && ready(node)) out.set(node, since)
  }
  const inWindow = (f: NodeFailure): boolean => f.at <= now && now - f.at <= params.windowMs
  const recent = new Set<string>()
  const failedOn = new Map<string, number>()
  for (const [id, f] of failures) {
    if (!inWindow(f)) continue
    recent.add(id)
    failedOn.set(f.node, (failedOn.get(f.node) ?? 0) + 1)
  }
  // A doubted replica does not make its node a candidate, but does not count as serving either.
  for (const [id, f] of input.doubts ?? []) if (inWindow(f)) recent.add(id)
  // Nodes with a replica that has not failed lately: they serve, so they are not suspects.
  const serving = new Set<string>()
  for (const [id, node] of placed) if (!recent.has(id)) serving.add(node)
  for (const node of failedOn.keys()) {
    if (out.has(node) || serving.has(node) || !ready(node)) continue
    const elsewhere = [...serving].some((n) => n !== node && !out.has(n) && ready(n))
    if (elsewhere) out.set(node, now)
  }
  return out
}

/** The placement constraints that keep a new replica off the suspects. */
export function avoidConstraints (suspects: Iterable<string>): string[] {
  return [...suspects].sort().map((id) => `node.id!=${id}`)
}
