/**
 * Rollout tests' helpers: the four versions of the example API (scripts/build-rollout-images.sh),
 * the admin calls, and a bounded load loop that records every answer.
 */
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { request } from 'undici'
import { dockerClient, repoRoot } from '../helpers/docker'
import { serviceLabelFilter } from '../../src/runtime/names'
import type { RolloutStatus } from '../../src/rollout/controller'
import type { FleetGateway } from '../fleet/harness'

export const V1 = 'symphony-rollout-api:v1'
export const V2 = 'symphony-rollout-api:v2'
export const NEVER_HEALTHY = 'symphony-rollout-api:never-healthy'
export const ANSWERS_500 = 'symphony-rollout-api:answers-500'

/** Engine up, and the versions built (idempotent). */
export function ensureRolloutImages (): void {
  const opts = { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] as ['ignore', 'ignore', 'inherit'], env: { ...process.env, CI: 'true' } }
  execFileSync(path.join(repoRoot, 'scripts', 'docker-engine.sh'), [], opts)
  execFileSync(path.join(repoRoot, 'scripts', 'build-rollout-images.sh'), [], opts)
}

export async function imageId (ref: string): Promise<string> {
  return (await dockerClient().getImage(ref).inspect()).Id
}

/** The service's containers with the image ID each runs. */
export async function containerImages (service: string): Promise<Array<{ port: number, image: string, running: boolean }>> {
  const list = await dockerClient().listContainers({ all: true, filters: { label: serviceLabelFilter(service) } })
  return list.map((c) => ({ port: Number(c.Labels['io.symphony.port']), image: c.ImageID, running: c.State === 'running' })).sort((a, b) => a.port - b.port)
}

export async function postRollout (gw: FleetGateway, image: string): Promise<{ status: number, body: { rollout?: RolloutStatus, error?: { code: string, message: string } } }> {
  const res = await request(`${gw.admin}/rollout`, { method: 'POST', body: JSON.stringify({ image }), headers: { 'content-type': 'application/json' } })
  return { status: res.statusCode, body: await res.body.json() as never }
}

export async function getRollout (gw: FleetGateway): Promise<RolloutStatus | null> {
  const res = await request(`${gw.admin}/rollout`)
  return ((await res.body.json()) as { rollout: RolloutStatus | null }).rollout
}

/** Poll GET /rollout until it ended; its last state. */
export async function rolloutEnd (gw: FleetGateway, timeoutMs: number): Promise<RolloutStatus> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const r = await getRollout(gw)
    if (r !== null && r.phase !== 'rolling' && r.phase !== 'rolling-back') return r
    if (Date.now() > end) throw new Error(`rollout not ended within ${timeoutMs} ms: ${JSON.stringify(r)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Answers of a load loop, each with when it ended. */
export interface Loaded { readonly ok: number, readonly failed: Array<{ at: number, status: number | string }>, readonly total: number }

/**
 * `concurrency` clients sending GET (or POST, with a small body) /api/v1/hello back to back until
 * `stop()` or `maxMs` (the bound); every answer other than `okStatus` is recorded with its time.
 */
export function loadLoop (url: string, concurrency: number, maxMs: number, method: 'GET' | 'POST' = 'GET', okStatus = 200): { stop: () => Promise<Loaded> } {
  let running = true
  const bound = setTimeout(() => { running = false }, maxMs)
  let ok = 0
  const failed: Array<{ at: number, status: number | string }> = []
  const client = async (): Promise<void> => {
    while (running) {
      try {
        const res = await request(`${url}/api/v1/hello`, { method, ...(method === 'POST' ? { body: '{}' } : {}), headersTimeout: 10_000, bodyTimeout: 10_000 })
        await res.body.dump()
        if (res.statusCode === okStatus) ok++
        else failed.push({ at: Date.now(), status: res.statusCode })
      } catch (err) {
        failed.push({ at: Date.now(), status: (err as Error).message })
      }
    }
  }
  const clients = Array.from({ length: concurrency }, client)
  return {
    stop: async () => {
      running = false
      clearTimeout(bound)
      await Promise.all(clients)
      return { ok, failed, total: ok + failed.length }
    }
  }
}
