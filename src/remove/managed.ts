/**
 * The pure half of `symphony remove`'s refusal: does a command line run a symphony gateway for
 * a service, and what does an admin API's /status answer say. The I/O (engine listings, the
 * admin probe) is in src/remove/command.ts.
 */
import { serviceFromImage } from '../config/checks'

/** The value of `--name V` or `--name=V` in an argument list, or null. The last one counts, as for the CLI. */
export function flagValue (args: readonly string[], name: string): string | null {
  let found: string | null = null
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string
    if (a === `--${name}` && i + 1 < args.length) found = args[i + 1] as string
    else if (a.startsWith(`--${name}=`)) found = a.slice(name.length + 3)
  }
  return found
}

/**
 * Whether `args` (a container's or Swarm service's command and arguments) start a symphony
 * gateway for `service`: it names the service with `--service`, or, without one, names an image
 * whose derived service name is `service` (the CLI's own rule). A `remove` command is not a
 * gateway. Replicas run the API's image, whose arguments name neither.
 */
export function runsGatewayFor (args: readonly string[], service: string): boolean {
  if (args.includes('remove')) return false
  const named = flagValue(args, 'service')
  if (named !== null) return named === service
  const image = flagValue(args, 'image')
  return image !== null && serviceFromImage(image) === service
}

/** What an admin API's answer to GET /status says about who manages `service`. */
export type AdminVerdict = 'manages' | 'other-service' | 'needs-token' | 'not-symphony'

export function adminVerdict (status: number, body: string, service: string): AdminVerdict {
  if (status === 401) return 'needs-token'
  if (status !== 200) return 'not-symphony'
  try {
    const parsed = JSON.parse(body) as { service?: unknown }
    if (typeof parsed.service !== 'string') return 'not-symphony'
    return parsed.service === service ? 'manages' : 'other-service'
  } catch {
    return 'not-symphony'
  }
}
