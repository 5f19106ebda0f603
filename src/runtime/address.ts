/**
 * A container's own address on a Docker network, read from what the engine already returns (the
 * `NetworkSettings` of a container list entry or of an inspect). Pure: no engine here, so the
 * Docker runtime and the Swarm runtime (a task's overlay address) share it and tests reach it
 * without an engine.
 */

/** The part of an endpoint's settings this module reads (list and inspect agree on it). */
export interface EndpointLike {
  readonly IPAddress?: string
  readonly NetworkID?: string
}

/** The part of `NetworkSettings` this module reads. */
export interface NetworkSettingsLike {
  /** Endpoints by network name. */
  readonly Networks?: Readonly<Record<string, EndpointLike | undefined>>
  /** The default bridge's address, kept at the top level by the engine for old clients. */
  readonly IPAddress?: string
}

/** The network a container joins when none is named: Docker's default bridge. */
export const DEFAULT_NETWORK = 'bridge'

/**
 * The IPv4 address of the container on `network` (a name, a full id, or an id prefix of at least
 * 12 characters; null = the default bridge), or null when it has none there: not running,
 * `--network host`/`none`/`container:…`, or not attached to that network.
 */
export function containerAddress (settings: NetworkSettingsLike | undefined | null, network: string | null): string | null {
  const name = network ?? DEFAULT_NETWORK
  const nets = settings?.Networks ?? {}
  const byName = nets[name]
  if (byName !== undefined) return usable(byName.IPAddress)
  if (name.length >= 12) {
    for (const endpoint of Object.values(nets)) {
      if (endpoint?.NetworkID?.startsWith(name) === true) return usable(endpoint.IPAddress)
    }
  }
  // Engines that leave `Networks` out still fill the default bridge's address at the top level.
  if (name === DEFAULT_NETWORK && Object.keys(nets).length === 0) return usable(settings?.IPAddress)
  return null
}

function usable (ip: string | undefined): string | null {
  return ip === undefined || ip === '' ? null : ip
}
