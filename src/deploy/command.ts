/**
 * `symphony deploy IMAGE`: ask a running symphony, through its admin API, to roll its replicas
 * to IMAGE (POST /rollout), print one line per step as they happen (GET /rollout, polled), and
 * end with the outcome: 0 when every replica runs IMAGE, else a documented exit code
 * (docs/deploy.md#exit-codes). Runs in the command's own process; the gateway does the work.
 */
import { request } from 'undici'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  AdminRefusedError, AdminUnreachableError, ConfigError, ImageUnavailableError, RolledBackError,
  RolloutRunningError, RolloutTimeoutError, RolloutUnsupportedError, type SymphonyError
} from '../errors'
import { parseDuration, parseHost, parsePort } from '../config/parse-values'
import type { RolloutStatus } from '../rollout/controller'

export interface DeployArgs {
  readonly image: string
  readonly adminHost: string
  readonly adminPort: number
  readonly adminToken: string | null
  readonly timeoutMs: number
}

export const DEPLOY_USAGE = `Usage: symphony deploy IMAGE [--admin-host HOST] [--admin-port PORT] [--admin-token TOKEN] [--timeout DURATION]

Roll the replicas of a running symphony to IMAGE, one by one (docs/deploy.md).
  --admin-host HOST     admin address of the running symphony (default 127.0.0.1)
  --admin-port PORT     its --admin-port (default 9180)
  --admin-token TOKEN   its --admin-token, if it has one (or SYMPHONY_ADMIN_TOKEN)
  --timeout DURATION    give up waiting after this long (default 10m; the rollout goes on)
`

/** Parse the command's arguments; ConfigError (exit 2) for a mistake. */
export function parseDeployArgs (argv: readonly string[], env: NodeJS.ProcessEnv): DeployArgs | 'help' {
  let image: string | null = null
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--help' || a === '-h') return 'help'
    if (a.startsWith('--')) {
      const eq = a.indexOf('=')
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq)
      if (!['admin-host', 'admin-port', 'admin-token', 'timeout'].includes(name)) {
        throw new ConfigError(`symphony deploy: unknown option --${name}; it takes --admin-host, --admin-port, --admin-token and --timeout`)
      }
      const value = eq < 0 ? argv[++i] : a.slice(eq + 1)
      if (value === undefined) throw new ConfigError(`symphony deploy: --${name} needs a value`)
      flags.set(name, value)
    } else if (image === null) {
      image = a
    } else {
      throw new ConfigError(`symphony deploy: one image only (got ${image} and ${a})`)
    }
  }
  if (image === null || !/^\S+$/.test(image)) throw new ConfigError('symphony deploy: name the image to roll to, e.g. symphony deploy my-api:2')
  const token = flags.get('admin-token') ?? env.SYMPHONY_ADMIN_TOKEN ?? null
  return {
    image,
    adminHost: parseHost(flags.get('admin-host') ?? env.SYMPHONY_ADMIN_HOST ?? '127.0.0.1', '--admin-host'),
    adminPort: parsePort(flags.get('admin-port') ?? env.SYMPHONY_ADMIN_PORT ?? '9180', '--admin-port'),
    adminToken: token === '' ? null : token,
    timeoutMs: parseDuration(flags.get('timeout') ?? '10m', '--timeout', { min: 1000 })
  }
}

/** The error a refusal of POST /rollout stands for, by its code. */
const REFUSALS: Record<string, new (message: string) => SymphonyError> = {
  SYM_ERR_ROLLOUT_RUNNING: RolloutRunningError,
  SYM_ERR_ROLLOUT_UNSUPPORTED: RolloutUnsupportedError,
  SYM_ERR_IMAGE_UNAVAILABLE: ImageUnavailableError
}

const POLL_MS = 250

/**
 * Run a deploy; `print` gets one line per step. Resolves when every replica runs the image;
 * rejects with the SymphonyError whose exit code the command ends with.
 */
export async function deploy (args: DeployArgs, print: (line: string) => void): Promise<void> {
  const base = `http://${args.adminHost.includes(':') ? `[${args.adminHost}]` : args.adminHost}:${args.adminPort}`
  const started = await call(base, args, 'POST', JSON.stringify({ image: args.image }))
  let seen = 0
  const show = (r: RolloutStatus): void => {
    for (const e of r.events) if (e.seq > seen) { print(`${e.at} ${e.step} ${e.message}`); seen = e.seq }
  }
  const id = started.id
  show(started)
  const deadline = Date.now() + args.timeoutMs
  for (;;) {
    const r = (await call(base, args, 'GET')) as RolloutStatus | null
    if (r === null || r.id !== id) throw new AdminRefusedError(`the rollout ${id} is no longer the one symphony at ${base} reports; see its logs`)
    show(r)
    if (r.phase === 'succeeded') return
    if (r.phase === 'rolled-back') throw new RolledBackError(`rolled back: ${r.reason ?? 'the new version failed'}; every replica runs the previous image again`)
    if (r.phase === 'stopped') throw new AdminUnreachableError(`symphony stopped before the rollout to ${args.image} ended; its next start with --image rolls the rest`)
    if (Date.now() >= deadline) throw new RolloutTimeoutError(`the rollout to ${args.image} did not end within --timeout ${args.timeoutMs} ms; it goes on (GET ${base}/rollout)`)
    await sleep(POLL_MS)
  }
}

/** One admin call: the `rollout` of its answer, or the error its refusal stands for. */
async function call (base: string, args: DeployArgs, method: 'GET' | 'POST', body?: string): Promise<RolloutStatus> {
  let status: number
  let text: string
  try {
    const res = await request(`${base}/rollout`, {
      method,
      headers: { 'content-type': 'application/json', ...(args.adminToken !== null ? { authorization: `Bearer ${args.adminToken}` } : {}) },
      ...(body !== undefined ? { body } : {}),
      headersTimeout: 10_000,
      bodyTimeout: 10_000
    })
    status = res.statusCode
    text = await res.body.text()
  } catch (err) {
    throw new AdminUnreachableError(`no symphony admin API answers at ${base} (${(err as Error).message}): check --admin-host and --admin-port, and that symphony runs`)
  }
  let doc: { rollout?: RolloutStatus, error?: { code?: string, message?: string } }
  try {
    doc = JSON.parse(text)
  } catch {
    throw new AdminRefusedError(`${base}/rollout answered ${status} with something other than symphony's JSON: is --admin-port symphony's admin port?`)
  }
  if (status === 401) throw new AdminRefusedError(`the admin API at ${base} refused the token: pass its --admin-token with --admin-token or SYMPHONY_ADMIN_TOKEN`)
  const code = doc.error?.code
  if (code !== undefined) {
    const Refusal = REFUSALS[code]
    const message = doc.error?.message ?? code
    if (Refusal !== undefined) throw new Refusal(message)
    throw new AdminRefusedError(`the admin API at ${base} answered ${status} ${code}: ${message}`)
  }
  if (doc.rollout === undefined || (status !== 200 && status !== 202)) throw new AdminRefusedError(`${base}/rollout answered ${status} without a rollout: is this symphony's admin port, and a version with deploys?`)
  return doc.rollout
}
