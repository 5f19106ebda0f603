/**
 * `symphony remove [the gateway's own options]`: remove a service's replicas and what symphony
 * created for them, after the symphony that managed them has stopped (docs/deployment.md,
 * "Removal"). It takes the same options (or `--config` file) as the gateway it follows, so it
 * finds the same service, runtime and admin address.
 *
 * What symphony creates for a service is its replicas and its lease: containers labelled
 * with the service (docker runtime), one Swarm service per slot (swarm runtime, whose task
 * containers Swarm removes with it), or local processes (process runtime); and the lease
 * (src/lease/: a never-started container, or a Swarm config), removed once it is stale, while a
 * renewed one refuses like a live admin API (src/remove/lease.ts). The overlay network
 * of `--runtime swarm` is the user's (or the stack's): symphony never creates one, so it leaves
 * it, and it can be removed once the replica services are gone.
 *
 * One line per thing removed on stdout. Refused (exit 22, nothing removed) while a symphony
 * still manages the service, since it would start the replicas again; exit 23 when some replica
 * could not be removed.
 */
import http from 'node:http'
import Docker from 'dockerode'
import type { Config } from '../config/types'
import { DockerUnavailableError, RemoveIncompleteError, StillManagedError } from '../errors'
import { DOCKER_API_VERSION } from '../runtime/docker'
import { LABEL_MANAGED, dialHost, serviceLabelFilter } from '../runtime/names'
import { alive, findReplicaProcesses } from '../runtime/orphans'
import { adminVerdict, runsGatewayFor } from './managed'
import { staleLease } from './lease'
import { DockerLeaseCarrier } from '../lease/docker'
import { SwarmLeaseCarrier } from '../lease/swarm'
import type { LeaseCarrier } from '../lease/carrier'

/** Where the lines go (stdout in the CLI). */
export type Say = (line: string) => void

/** How long a replica gets between SIGTERM and SIGKILL, and how long Swarm gets to remove task containers. */
const STOP_GRACE_S = 10
const SWARM_SETTLE_MS = 60_000

export async function runRemove (config: Config, say: Say): Promise<void> {
  const service = config.service
  const docker = config.runtime === 'process' ? null : await engine()
  await refuseIfManaged(config, docker)
  if (docker === null) return removeProcesses(service, say)
  // A lease still renewed refuses (exit 22) before anything is removed; a stale one goes last.
  const carrier: LeaseCarrier = config.runtime === 'swarm' ? new SwarmLeaseCarrier(service, docker) : new DockerLeaseCarrier(service, config.image ?? '', docker)
  const lease = await staleLease(carrier, service)
  const failures = config.runtime === 'swarm' ? await removeSwarmServices(docker, service, say) : await removeContainers(docker, service, say)
  if (lease !== null && failures.length === 0) {
    try {
      await carrier.remove(lease)
      say(`removed the stale lease ${carrier.describe} (left by pid ${lease.holder.pid} on ${lease.holder.host})`)
    } catch (err) {
      failures.push(`lease ${carrier.describe}: ${(err as Error).message}`)
    }
  }
  if (failures.length > 0) {
    throw new RemoveIncompleteError(`service ${service}: could not remove ${failures.join('; ')}; run symphony remove again`)
  }
}

async function engine (): Promise<Docker> {
  // The engine address comes from DOCKER_HOST or the default socket, as for the gateway.
  const docker = new Docker({ version: DOCKER_API_VERSION })
  try {
    await docker.ping()
  } catch (err) {
    throw new DockerUnavailableError(`cannot reach the Docker engine (${(err as Error).message}); start it, or set DOCKER_HOST to its address`, { cause: err })
  }
  return docker
}

/** Exit 22 when a symphony still manages the service: its admin API says so, or the engine runs one for it. */
async function refuseIfManaged (config: Config, docker: Docker | null): Promise<void> {
  const admin = `${dialHost(config.adminHost)}:${config.adminPort}`
  const answer = await probeStatus(admin, config.adminToken)
  if (answer !== null) {
    const verdict = adminVerdict(answer.status, answer.body, config.service)
    if (verdict === 'manages') {
      throw new StillManagedError(`a symphony manages service ${config.service} (its admin API at ${admin} says so); stop it first (systemctl stop, docker stop, docker service rm or docker stack rm), then run symphony remove again`)
    }
    if (verdict === 'needs-token') {
      throw new StillManagedError(`a symphony answers at ${admin} but needs --admin-token to say which service it manages; give the token, or stop it first`)
    }
  }
  if (docker === null) return
  const gateways = await gatewaysOnEngine(docker, config.service)
  if (gateways.length > 0) {
    throw new StillManagedError(`service ${config.service} is still managed by ${gateways.join(', ')}; stop it first (docker stop, docker service rm or docker stack rm), then run symphony remove again`)
  }
}

/** GET /status on an admin address; null when nothing answers there within a second. */
function probeStatus (hostPort: string, token: string | null): Promise<{ status: number, body: string } | null> {
  return new Promise((resolve) => {
    const req = http.get(`http://${hostPort}/status`, {
      timeout: 1000,
      headers: token === null ? {} : { authorization: `Bearer ${token}` }
    }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { if (body.length < 1_000_000) body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', () => resolve(null))
    })
    req.on('timeout', () => { req.destroy(); resolve(null) })
    req.on('error', () => resolve(null))
  })
}

/** Running containers and Swarm services (with tasks wanted) that run a symphony gateway for `service`. */
async function gatewaysOnEngine (docker: Docker, service: string): Promise<string[]> {
  const found: string[] = []
  for (const c of await docker.listContainers()) {
    if (c.Labels?.[LABEL_MANAGED] === 'true') continue // a replica
    const info = await docker.getContainer(c.Id).inspect().catch(() => null)
    if (info === null) continue
    const args = [...(info.Config.Entrypoint ?? []), ...(info.Config.Cmd ?? [])]
    if (runsGatewayFor(args, service)) found.push(`container ${info.Name.replace(/^\//, '')}`)
  }
  const info = await docker.info() as { Swarm?: { ControlAvailable?: boolean } }
  if (info.Swarm?.ControlAvailable !== true) return found
  for (const s of await docker.listServices()) {
    const spec = s.Spec
    if (spec?.Labels?.[LABEL_MANAGED] === 'true') continue
    const cs = (spec?.TaskTemplate as { ContainerSpec?: { Command?: string[], Args?: string[] } } | undefined)?.ContainerSpec
    const replicas = spec?.Mode?.Replicated?.Replicas
    if (replicas === 0) continue // scaled to zero: it manages nothing
    if (runsGatewayFor([...(cs?.Command ?? []), ...(cs?.Args ?? [])], service)) found.push(`Swarm service ${spec?.Name ?? s.ID}`)
  }
  return found
}

/** Docker runtime: every container labelled with the service, running or not. */
async function removeContainers (docker: Docker, service: string, say: Say): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: serviceLabelFilter(service) } })
  const failures: string[] = []
  await Promise.all(list.map(async (c) => {
    const name = (c.Names[0] ?? c.Id).replace(/^\//, '')
    try {
      if (c.State === 'running') await docker.getContainer(c.Id).stop({ t: STOP_GRACE_S }).catch(ignoreGone)
      await docker.getContainer(c.Id).remove({ force: true }).catch(ignoreGone)
      say(`removed container ${name} (${c.Id.slice(0, 12)})`)
    } catch (err) {
      failures.push(`container ${name}: ${(err as Error).message}`)
    }
  }))
  say(list.length === 0 ? `service ${service}: no containers to remove` : `service ${service}: ${list.length - failures.length} of ${list.length} containers removed`)
  return failures
}

/**
 * Swarm runtime: every replica service labelled with the service. Swarm stops and removes their
 * task containers on its own; this waits (up to a minute) until this node has none left, so
 * that the overlay they used can be removed right after.
 */
async function removeSwarmServices (docker: Docker, service: string, say: Say): Promise<string[]> {
  const list = (await docker.listServices({ filters: { label: serviceLabelFilter(service) } }))
    .sort((a, b) => (a.Spec?.Name ?? a.ID).localeCompare(b.Spec?.Name ?? b.ID, 'en', { numeric: true }))
  const failures: string[] = []
  for (const s of list) {
    const name = s.Spec?.Name ?? s.ID
    try {
      await docker.getService(s.ID).remove().catch(ignoreGone)
      say(`removed Swarm service ${name}`)
    } catch (err) {
      failures.push(`Swarm service ${name}: ${(err as Error).message}`)
    }
  }
  const end = Date.now() + SWARM_SETTLE_MS
  let left = await docker.listContainers({ all: true, filters: { label: serviceLabelFilter(service) } })
  while (left.length > 0 && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    left = await docker.listContainers({ all: true, filters: { label: serviceLabelFilter(service) } })
  }
  for (const c of left) failures.push(`task container ${(c.Names[0] ?? c.Id).replace(/^\//, '')} (still on this node after ${SWARM_SETTLE_MS / 1000} s)`)
  say(list.length === 0 ? `service ${service}: no Swarm services to remove` : `service ${service}: ${list.length} Swarm services removed, their task containers gone from this node`)
  return failures
}

/** Process runtime: replica processes a crash left (a clean stop ends them itself). */
async function removeProcesses (service: string, say: Say): Promise<void> {
  const found = findReplicaProcesses(service)
  for (const p of found) {
    try { process.kill(p.pid, 'SIGTERM') } catch {}
  }
  const end = Date.now() + STOP_GRACE_S * 1000
  while (found.some((p) => alive(p.pid)) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 100))
  for (const p of found) {
    if (!alive(p.pid)) { say(`stopped process ${p.pid} (port ${p.port})`); continue }
    try { process.kill(p.pid, 'SIGKILL') } catch {}
    say(`killed process ${p.pid} (port ${p.port}) after ${STOP_GRACE_S} s`)
  }
  say(found.length === 0 ? `service ${service}: no processes to remove` : `service ${service}: ${found.length} processes stopped`)
}

/** A 404 means it is gone already, which is what removal wants. */
function ignoreGone (err: unknown): void {
  if ((err as { statusCode?: number }).statusCode === 404 || (err as { statusCode?: number }).statusCode === 304) return
  throw err
}
