/**
 * Addresses on Docker networks: where a task sits on an overlay, and whether this process can
 * reach that overlay at all. Pure, so the rules are tested without an engine.
 */
import { isIPv4 } from 'node:net'
import { networkInterfaces } from 'node:os'

/** One entry of a task's NetworksAttachments (Engine API 1.41). */
export interface AttachmentRecord {
  readonly Network?: { readonly ID?: string, readonly Spec?: { readonly Name?: string } }
  /** CIDR notation, e.g. `10.0.1.5/24`. */
  readonly Addresses?: readonly string[]
}

/** The address (without prefix length) a task has on `networkId`, or null when none is allocated yet. */
export function overlayAddress (attachments: readonly AttachmentRecord[] | undefined, networkId: string): string | null {
  for (const a of attachments ?? []) {
    if (a.Network?.ID !== networkId) continue
    const cidr = a.Addresses?.[0]
    if (cidr === undefined) return null
    const slash = cidr.indexOf('/')
    return slash < 0 ? cidr : cidr.slice(0, slash)
  }
  return null
}

function ipv4ToInt (ip: string): number {
  return ip.split('.').reduce((n, part) => (n * 256) + Number(part), 0)
}

/** Whether the IPv4 address `ip` lies in `cidr` (`10.0.1.0/24`). IPv6 subnets never match. */
export function inSubnet (ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/')
  const bits = Number(bitsText ?? '32')
  if (!isIPv4(ip) || !isIPv4(base) || !Number.isInteger(bits) || bits < 0 || bits > 32) return false
  if (bits === 0) return true
  const size = 2 ** (32 - bits)
  return Math.floor(ipv4ToInt(ip) / size) === Math.floor(ipv4ToInt(base) / size)
}

/**
 * This process's first IPv4 address inside one of `subnets`, or null: how symphony tells whether
 * it is attached to the overlay it must dial replicas on.
 */
export function localAddressIn (subnets: readonly string[], interfaces = networkInterfaces()): string | null {
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) {
      if (a.family !== 'IPv4') continue
      if (subnets.some((s) => inSubnet(a.address, s))) return a.address
    }
  }
  return null
}
