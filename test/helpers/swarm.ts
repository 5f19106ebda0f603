/**
 * Helpers for tests on a real Swarm: join or create a single-node swarm (and leave it only when
 * the test created it), an overlay network, and symphony itself running as a container on that
 * overlay with the Docker socket mounted, which is how it is deployed: replicas are reached at
 * their overlay addresses, which the host cannot route to. Everything is removed in teardown.
 */
import { execFile, execFileSync } from 'node:child_process'
import path from 'node:path'
import { promisify } from 'node:util'
import { request } from 'undici'
import { serviceLabelFilter } from '../../src/runtime/names'
import { leaseName } from '../../src/lease/carrier'
import { dockerClient, repoRoot, waitFor } from './docker'
import type { StatusDoc } from '../fleet/harness'

const run = promisify(execFile)

/** The image scripts/build-symphony-image.sh builds. */
export const SYMPHONY_IMAGE = process.env.SYMPHONY_IMAGE ?? 'symphony'
/** Admin token of every symphony container the tests start (the admin API listens off loopback there). */
export const ADMIN_TOKEN = 'swarm-test-token-0123456789'

interface Teardown { teardown: (fn: () => unknown) => void }

/** Build symphony's own image from dist/ (idempotent: skipped when unchanged). */
export function ensureSymphonyImage (): void {
  execFileSync(path.join(repoRoot, 'scripts', 'build-symphony-image.sh'), [], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] })
}

/** `docker …` on the default engine (or `host`); stdout, trimmed. */
export async function docker (args: string[], host?: string): Promise<string> {
  const { stdout } = await run('docker', [...(host !== undefined ? ['-H', host] : []), ...args], { maxBuffer: 64 * 1024 * 1024 })
  return stdout.trim()
}

export async function swarmState (host?: string): Promise<string> {
  return await docker(['info', '-f', '{{.Swarm.LocalNodeState}}'], host)
}

/**
 * Make the engine a Swarm manager if it is in no swarm, with `initArgs` (default: a single node
 * advertised on loopback). Leaves the swarm in teardown only when this call created it.
 * @returns whether it created the swarm.
 */
export async function ensureSwarm (t: Teardown, initArgs: string[] = ['--advertise-addr', '127.0.0.1']): Promise<boolean> {
  const state = await swarmState()
  if (state === 'active') return false
  if (state !== 'inactive') throw new Error(`the engine's swarm state is ${state}; expected inactive or active`)
  // swarm init creates docker_gwbridge, and leaving does not remove it: so does the teardown
  // when the bridge was not there before.
  const hadBridge = (await docker(['network', 'ls', '-q', '--filter', 'name=^docker_gwbridge$'])) !== ''
  await docker(['swarm', 'init', ...initArgs])
  t.teardown(async () => {
    await docker(['swarm', 'leave', '--force']).catch(() => {})
    if (!hadBridge) await docker(['network', 'rm', 'docker_gwbridge']).catch(() => {})
  })
  return true
}

/**
 * An attachable overlay network, removed in teardown (retried while the tasks of removed
 * services are still detaching from it).
 */
export async function createOverlay (t: Teardown, name: string, image: string): Promise<string> {
  const id = await docker(['network', 'create', '-d', 'overlay', '--attachable', '--label', 'io.symphony.test=true', name])
  const anchor = `${name}-anchor`
  t.teardown(async () => {
    await docker(['rm', '-f', anchor]).catch(() => {})
    await waitFor(`network ${name} removed`, async () => {
      try {
        await docker(['network', 'rm', name])
        return true
      } catch (err) {
        return /No such network|not found/i.test(String(err)) ? true : undefined
      }
    }, 60_000, 500).catch((err: unknown) => process.stderr.write(`teardown: ${String(err)}\n`))
  })
  // An engine tears its local instance of an overlay down when the last local endpoint leaves
  // and builds it again on the next; a container attaching during that window fails with
  // "network … not found" (Docker 20.10) and can leak its attachment, which then blocks the
  // network's removal. A container kept on the network for the whole test avoids the window.
  await waitFor(`an anchor container on ${name}`, async () => {
    try {
      await docker(['run', '-d', '--name', anchor, '--label', 'io.symphony.test=true', '--network', name, '--entrypoint', 'node', image, '-e', 'setInterval(() => {}, 1e9)'])
      return true
    } catch {
      await docker(['rm', '-f', anchor]).catch(() => {})
      return undefined
    }
  }, 30_000, 1000)
  return id
}

/** Remove every Swarm service of a symphony service (by label), and its lease config. */
export async function removeSwarmServices (service: string): Promise<void> {
  const docker = dockerClient()
  // The service's lease (src/lease/swarm.ts): a symphony removed with `docker rm -f` leaves it.
  await docker.getConfig(leaseName(service)).remove().catch(() => {})
  const list = await docker.listServices({ filters: { label: serviceLabelFilter(service) } }) as unknown as Array<{ ID: string }>
  await Promise.all(list.map(async (s) => {
    try {
      await docker.getService(s.ID).remove()
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err
    }
  }))
}

/** The replica services of a symphony service: name, id, and its task's container and node. */
export interface SwarmReplica { service: string, id: string, slot: number, node: string | null, state: string | null, address: string | null }

export async function swarmReplicas (service: string, host?: string): Promise<SwarmReplica[]> {
  const out = await docker(['service', 'ls', '--filter', `label=io.symphony.service=${service}`, '--format', '{{.ID}} {{.Name}}'], host)
  const rows: SwarmReplica[] = []
  for (const line of out.split('\n').filter((l) => l !== '')) {
    const [id, name] = line.split(' ')
    const ps = await docker(['service', 'ps', id, '--no-trunc', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}'], host)
    const [node, state] = ps === '' ? [null, null] : [ps.split(' ')[0], ps.split(' ')[1].toLowerCase()]
    rows.push({ service: name, id, slot: Number(name.slice(name.lastIndexOf('-') + 1)), node, state, address: null })
  }
  return rows.sort((a, b) => a.slot - b.slot)
}

/** symphony running as a container on the overlay. */
export interface SymphonyContainer {
  readonly name: string
  url: string
  admin: string
  /** GET /status. */
  status: () => Promise<StatusDoc>
  waitForStatus: (what: string, pred: (s: StatusDoc) => boolean, timeoutMs?: number) => Promise<StatusDoc>
  /** Its JSON log lines so far. */
  logs: () => Promise<Array<Record<string, unknown>>>
  /** Run a Node script inside symphony's container (it is on the overlay): reaches replicas. */
  exec: (script: string) => Promise<string>
  /** `docker restart` (SIGTERM, then start again): the new process must adopt the replicas. */
  restart: () => Promise<void>
}

/**
 * Start symphony (`--runtime swarm --network <network> --service <service>` plus `args`) as a
 * container attached to the overlay, the Docker socket mounted, its gateway and admin ports
 * published on 127.0.0.1. Teardown removes it, then the replica services it made.
 */
export async function runSymphony (t: Teardown, opts: { service: string, network: string, args: string[], dockerHost?: string }): Promise<SymphonyContainer> {
  const name = `symphony-test-${opts.service}`
  t.teardown(async () => {
    await docker(['rm', '-f', name]).catch(() => {})
    await removeSwarmServices(opts.service).catch(() => {})
  })
  await docker([
    'run', '-d', '--name', name, '--label', 'io.symphony.managed=true', '--label', `io.symphony.service=${opts.service}`,
    '--network', opts.network, '-v', '/var/run/docker.sock:/var/run/docker.sock',
    '-p', '127.0.0.1::8080', '-p', '127.0.0.1::9180',
    SYMPHONY_IMAGE,
    '--runtime', 'swarm', '--network', opts.network, '--service', opts.service, '--threads', '1',
    '--admin-host', '0.0.0.0', '--admin-token', ADMIN_TOKEN, '--log-level', 'debug', ...opts.args
  ])
  const c: SymphonyContainer = {
    name,
    url: '',
    admin: '',
    status: async () => {
      const res = await request(`${c.admin}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, headersTimeout: 5000, bodyTimeout: 5000 })
      if (res.statusCode !== 200) { await res.body.dump(); throw new Error(`/status answered ${res.statusCode}`) }
      return await res.body.json() as StatusDoc
    },
    waitForStatus: async (what, pred, timeoutMs = 30_000) => await waitFor(what, async () => {
      const s = await c.status()
      return pred(s) ? s : undefined
    }, timeoutMs, 200),
    logs: async () => {
      const { stdout } = await run('docker', ['logs', name], { maxBuffer: 64 * 1024 * 1024 })
      return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
    },
    exec: async (script) => await docker(['exec', name, 'node', '-e', script]),
    restart: async () => {
      await docker(['restart', '-t', '20', name])
      await locate()
    }
  }
  const locate = async (): Promise<void> => {
    const port = async (p: number): Promise<string> => (await docker(['port', name, `${p}/tcp`])).split('\n')[0]
    c.url = `http://${await port(8080)}`
    c.admin = `http://${await port(9180)}`
    await waitFor('symphony answers /status', async () => {
      if (await docker(['inspect', '-f', '{{.State.Running}}', name]) !== 'true') {
        const logs = await run('docker', ['logs', '--tail', '5', name]).then((r) => r.stdout + r.stderr, () => '')
        throw new Error(`symphony's container exited: ${logs.replace(/\s*\n\s*/g, ' | ')}`)
      }
      return await c.status().catch(() => undefined)
    }, 60_000, 200)
    // The admin port answering does not prove the gateway's does: right after `swarm init`
    // (docker_gwbridge just made), Docker's forwarding of a published port has been seen to
    // reset connections for a few seconds. Any HTTP answer (a held request's 503 included) shows
    // the path to symphony works; what the tests then see is symphony's doing.
    await waitFor('symphony\'s gateway port answers HTTP', async () => typeof await hit(c.url, '/api/v1/_health') === 'number' ? true : undefined, 60_000, 200)
  }
  await locate()
  return c
}

/** One request through symphony's gateway; its status, or the error code. */
export async function hit (url: string, path = '/api/v1/hello'): Promise<number | string> {
  try {
    const res = await request(url + path, { headersTimeout: 30_000, bodyTimeout: 30_000 })
    await res.body.dump()
    return res.statusCode
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message
  }
}

/**
 * A bounded load: `concurrency` loops, each sending a request then pausing `gapMs`, until
 * `stop()` or `maxMs`. Counts answers by status (or error code); `failedAt` keeps when each
 * answer other than 200 came (epoch ms, with what it was).
 */
export function loadLoop (url: string, opts: { concurrency: number, gapMs: number, maxMs: number, path?: string }): { stop: () => Promise<Map<string, number>>, results: Map<string, number>, failedAt: Array<[number, string]> } {
  const results = new Map<string, number>()
  const failedAt: Array<[number, string]> = []
  let running = true
  const deadline = Date.now() + opts.maxMs
  const loop = async (): Promise<void> => {
    while (running && Date.now() < deadline) {
      const r = String(await hit(url, opts.path))
      results.set(r, (results.get(r) ?? 0) + 1)
      if (r !== '200') failedAt.push([Date.now(), r])
      if (opts.gapMs > 0) await new Promise((resolve) => setTimeout(resolve, opts.gapMs))
    }
  }
  const loops = Array.from({ length: opts.concurrency }, loop)
  return {
    results,
    failedAt,
    stop: async () => { running = false; await Promise.all(loops); return results }
  }
}

/** Requests answered with something other than 200. */
export function failures (results: Map<string, number>): number {
  let n = 0
  for (const [k, v] of results) if (k !== '200') n += v
  return n
}
