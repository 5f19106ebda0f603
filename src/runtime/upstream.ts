import type { UpstreamMode } from '../config/types'
import type { Logger } from '../log'
import { probeReachability, type Reachability } from './reachability'
import type { Address } from './types'

/** How long the first container's address gets to answer before auto settles on published ports. */
export const DETECT_TIMEOUT_MS = 1000

/** What the chooser settled on, and why (for /status and the start-up log). */
export interface UpstreamDecision {
  readonly mode: 'direct' | 'published'
  readonly reason: string
}

export interface UpstreamChooserOptions {
  readonly mode: UpstreamMode
  readonly log?: Logger
  /** The reachability probe; tests of the decision itself may script it. */
  readonly probe?: (host: string, port: number) => Promise<Reachability>
}

/**
 * Which address the proxy dials for a container: its own address on its Docker network (no
 * docker-proxy in the path: that userland forwarder costs about three quarters of the gateway's
 * own CPU per request, issue #12), or the port published on the host.
 *
 * `direct` and `published` are the operator's choice. `auto` decides once, on the first
 * container that has an address: a TCP connect to it, where a connection or a refusal means the
 * address is reachable from here, and anything else (no route, a timeout) means it is not, as on
 * Docker Desktop or with a rootless engine, whose container networks live in another VM or
 * network namespace. The decision is logged once with its reason and then holds for the process.
 */
export class UpstreamChooser {
  readonly #log: Logger | undefined
  readonly #probe: (host: string, port: number) => Promise<Reachability>
  #decision: UpstreamDecision | null
  #detecting: Promise<UpstreamDecision> | null = null

  constructor (options: UpstreamChooserOptions) {
    this.#log = options.log
    this.#probe = options.probe ?? ((host, port) => probeReachability(host, port, DETECT_TIMEOUT_MS))
    this.#decision = options.mode === 'auto' ? null : { mode: options.mode, reason: `--upstream ${options.mode}` }
  }

  /** The decision so far; null while auto has not seen a container address yet. */
  get decision (): UpstreamDecision | null { return this.#decision }

  /**
   * The address to dial for a container whose address on its network is `ip` (null when it has
   * none there: not running, host or none networking) and whose container port is published at
   * `published`. Never throws.
   */
  async address (ip: string | null, containerPort: number, published: Address): Promise<Address> {
    if (ip === null) return published
    const decision = this.#decision ?? await this.#detect(ip, containerPort)
    return decision.mode === 'direct' ? { host: ip, port: containerPort } : published
  }

  #detect (ip: string, port: number): Promise<UpstreamDecision> {
    this.#detecting ??= this.#probe(ip, port).catch((err: unknown): Reachability => ({ reachable: false, reason: String(err) })).then((r) => {
      const target = `${ip}:${port}`
      const decision: UpstreamDecision = r.reachable
        ? { mode: 'direct', reason: `container address ${target} reachable (${r.reason})` }
        : { mode: 'published', reason: `container address ${target} not reachable from here (${r.reason})` }
      this.#decision = decision
      if (decision.mode === 'direct') {
        this.#log?.info('upstream: direct to the containers\' own addresses', { event: 'upstream', mode: 'direct', reason: decision.reason })
      } else {
        this.#log?.warn('upstream: container addresses are not reachable from here (Docker Desktop or a rootless engine?); ' +
          'using the published ports, through docker-proxy', { event: 'upstream', mode: 'published', reason: decision.reason })
      }
      return decision
    })
    return this.#detecting
  }
}
