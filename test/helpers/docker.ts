/**
 * Shared helpers for tests against the real Docker engine: bring the engine up, build the test
 * image, name services uniquely and remove every container a test created, even on failure.
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import Docker from 'dockerode'
import { request } from 'undici'
import { DOCKER_API_VERSION } from '../../src/runtime/docker'
import { serviceLabelFilter } from '../../src/runtime/names'
import { leaseName, LEASE_LABELS } from '../../src/lease/carrier'

/**
 * The image scripts/build-test-image.sh builds (examples/api/server.js on FROM scratch). TEST_IMAGE
 * overrides the tag here as it does in the script, so that worktrees whose server.js differ do not
 * rebuild one shared tag back and forth under each other's running tests.
 */
export const TEST_IMAGE = process.env.TEST_IMAGE ?? 'symphony-test-api:latest'

/** The repository root, found from here whether run from test/ or dist/test/. */
export const repoRoot: string = (() => {
  let dir = __dirname
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir)
    if (up === dir) throw new Error(`no package.json above ${__dirname}`)
    dir = up
  }
  return dir
})()

/** Path of the example API's server.js. */
export const exampleServer = path.join(repoRoot, 'examples', 'api', 'server.js')

/** Start the engine if needed and build the test image if stale (both scripts are idempotent). */
export function ensureEngineAndImage (): void {
  const opts = { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] as ['ignore', 'ignore', 'inherit'], env: { ...process.env, CI: 'true' } }
  execFileSync(path.join(repoRoot, 'scripts', 'docker-engine.sh'), [], opts)
  execFileSync(path.join(repoRoot, 'scripts', 'build-test-image.sh'), [], opts)
}

/** A dockerode client on the default engine, pinned like the runtime. */
export function dockerClient (): Docker {
  return new Docker({ version: DOCKER_API_VERSION })
}

/** A service name no other test (or engineer) uses: containers are found by it. */
export function uniqueService (prefix: string): string {
  return `t-${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`
}

/**
 * Remove every container labelled with this service, whatever its state, and its lease container
 * (src/lease/docker.ts), which a SIGKILLed instance leaves behind.
 */
export async function removeServiceContainers (service: string, docker: Docker = dockerClient()): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: serviceLabelFilter(service) } })
  const lease = await docker.listContainers({ all: true, filters: { name: [`^/${leaseName(service)}$`] } })
  await Promise.all([...list, ...lease].map(async (c) => {
    try {
      await docker.getContainer(c.Id).remove({ force: true })
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err
    }
  }))
}

/** The pid named by the service's lease container (src/lease/docker.ts), or null when there is none. */
export async function leaseHolderPid (service: string, docker: Docker = dockerClient()): Promise<number | null> {
  try {
    return Number((await docker.getContainer(leaseName(service)).inspect()).Config.Labels[LEASE_LABELS.pid])
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null
    throw err
  }
}

/** Poll `check` until it returns a value other than undefined, or fail after `timeoutMs`. */
export async function waitFor<T> (what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last !== undefined ? `: ${String(last)}` : ''}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** Next value of an async iterator matching `pred`, or fail after `timeoutMs`. */
export async function nextMatching<T> (it: AsyncIterator<T>, pred: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    for (;;) {
      const r = await Promise.race([it.next(), timeout])
      if (r.done === true) throw new Error('event stream ended')
      if (pred(r.value)) return r.value
    }
  } finally {
    clearTimeout(timer)
  }
}

/** A service's containers as the engine lists them, by host port. */
export interface ServiceContainer { id: string, name: string, port: number, running: boolean }

export async function serviceContainers (service: string, docker: Docker = dockerClient()): Promise<ServiceContainer[]> {
  const list = await docker.listContainers({ all: true, filters: { label: serviceLabelFilter(service) } })
  return list
    .map((c) => ({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), port: Number(c.Labels['io.symphony.port']), running: c.State === 'running' }))
    .sort((a, b) => a.port - b.port)
}

/** The replicas symphony's /status lists once `n` are all healthy (ports and container ids), within `ms`. */
export async function healthyReplicas (adminPort: number, n: number, ms: number): Promise<Array<{ port: number, id: string }>> {
  return await waitFor(`${n} healthy`, async () => {
    const res = await request(`http://127.0.0.1:${adminPort}/status`)
    const s = await res.body.json() as { backends: Array<{ port: number, state: string, id: string }> }
    return s.backends.length === n && s.backends.every((b) => b.state === 'healthy') ? s.backends.map((b) => ({ port: b.port, id: b.id })) : undefined
  }, ms, 100)
}
