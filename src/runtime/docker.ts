import Docker from 'dockerode'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config } from '../config/types'
import { DockerUnavailableError, ImageUnavailableError, StartError, PortInUseError } from '../errors'
import type { Logger } from '../log'
import type { Address, Replica, Runtime, RuntimeEvent } from './types'
import { containerAddress } from './address'
import { UpstreamChooser, type UpstreamDecision } from './upstream'
import { messageOf, statusOf } from './engine-errors'
import { pullImage } from './pull'
import {
  connectionOptions, dialHost, formatSince, parseEvent, portFromLabels, replicaLabels, replicaName,
  serviceLabelFilter, splitCommand
} from './names'

/** The engine Debian ships here is 20.10; pinning keeps every call within what it speaks. */
export const DOCKER_API_VERSION = 'v1.41'

/** The parts of the configuration a Docker runtime needs. */
export type DockerRuntimeConfig = Pick<Config,
'service' | 'containerPort' | 'publishHost' | 'env' | 'command' | 'network' | 'memory' | 'cpus'> & {
  readonly image: string
  /** How the proxy reaches the containers; default auto. */
  readonly upstream?: Config['upstream']
}

/** How to reach the engine, beyond the service's configuration. */
export interface DockerRuntimeOptions {
  /**
   * Engine address in DOCKER_HOST syntax (`unix:///path`, `tcp://host:port`). Undefined leaves
   * the choice to dockerode, which honours DOCKER_HOST and falls back to the default socket,
   * as the docker CLI does.
   */
  readonly dockerHost?: string
  /** Give up pulling a missing image after this long. Default 5 minutes. */
  readonly pullTimeoutMs?: number
  /** Where the upstream decision is logged (once). */
  readonly log?: Logger
  /** Replaces the chooser's reachability probe (tests of the fallback that cannot make it real). */
  readonly upstreamProbe?: ConstructorParameters<typeof UpstreamChooser>[0]['probe']
}

const BACKOFF_MIN_MS = 100
const BACKOFF_MAX_MS = 5000
const PING_TIMEOUT_MS = 5000
/** The engine's messages when the host port is taken (by docker-proxy's bind, or iptables). */
const PORT_IN_USE = /port is already allocated|address already in use/i

/**
 * Replicas as Docker containers, on dockerode pinned to Engine API 1.41. One container per host
 * port, named `symphony-<service>-<port>` and labelled so that list(), events() and cleanup find
 * them by label only.
 */
export class DockerRuntime implements Runtime {
  readonly kind = 'docker'
  readonly #config: DockerRuntimeConfig
  readonly #docker: Docker | null
  /** Why the client could not even be built (a malformed DOCKER_HOST); reported by init(). */
  readonly #setupError: unknown = null
  readonly #endpoint: string
  readonly #pullTimeoutMs: number
  /** Aborted by close(): ends every events() stream this runtime has open. */
  readonly #closed = new AbortController()
  readonly #upstream: UpstreamChooser

  constructor (config: DockerRuntimeConfig, options: DockerRuntimeOptions = {}) {
    this.#config = config
    this.#upstream = new UpstreamChooser({
      mode: config.upstream ?? 'auto',
      ...(options.log !== undefined ? { log: options.log } : {}),
      ...(options.upstreamProbe !== undefined ? { probe: options.upstreamProbe } : {})
    })
    this.#pullTimeoutMs = options.pullTimeoutMs ?? 300_000
    let docker: Docker | null = null
    try {
      docker = new Docker({ ...connectionOptions(options.dockerHost), version: DOCKER_API_VERSION })
    } catch (err) {
      this.#setupError = err
    }
    this.#docker = docker
    this.#endpoint = describeEndpoint(options.dockerHost, docker)
  }

  /** The engine address in DOCKER_HOST syntax, for logs and error messages. */
  get endpoint (): string { return this.#endpoint }

  /**
   * Direct to the containers' addresses or through their published ports, and why; null while
   * `--upstream auto` has not seen a container address yet.
   */
  get upstream (): UpstreamDecision | null { return this.#upstream.decision }

  /**
   * Ping the engine, then make sure the image is present (pulling it if need be).
   * @throws DockerUnavailableError when the engine does not answer.
   * @throws ImageUnavailableError when the image is absent and cannot be pulled.
   */
  async init (): Promise<void> {
    const docker = this.#client()
    try {
      // dockerode honours abortSignal on every call; its typings omit it on some.
      await (docker.ping as (opts: object) => Promise<unknown>).call(docker, { abortSignal: AbortSignal.timeout(PING_TIMEOUT_MS) })
    } catch (err) {
      throw new DockerUnavailableError(
        `Docker engine not reachable at ${this.#endpoint} (${messageOf(err)}): start dockerd ` +
        '(scripts/docker-engine.sh), give this user access to the socket (root or the docker ' +
        'group), or set DOCKER_HOST to the engine\'s address', { cause: err })
    }
    await this.resolveImage(this.#config.image)
  }

  /**
   * The ID of image `ref`, pulled first when absent.
   * @throws ImageUnavailableError when it is absent and cannot be pulled.
   */
  async resolveImage (ref: string): Promise<string> {
    const docker = this.#client()
    try {
      return (await docker.getImage(ref).inspect()).Id
    } catch (err) {
      if (statusOf(err) !== 404) throw this.#imageError(ref, err)
    }
    try {
      await pullImage(docker, ref, AbortSignal.any([AbortSignal.timeout(this.#pullTimeoutMs), this.#closed.signal]))
      return (await docker.getImage(ref).inspect()).Id
    } catch (err) {
      throw this.#imageError(ref, err)
    }
  }

  /** Every container of this service, running or not (adoption after a restart). */
  async list (): Promise<Replica[]> {
    const containers = await this.#client().listContainers({
      all: true,
      filters: { label: serviceLabelFilter(this.#config.service) }
    })
    const replicas: Replica[] = []
    for (const c of containers) {
      const port = portFromLabels(c.Labels)
      if (port === null) continue
      // The list carries each container's network endpoints: adoption needs no inspect.
      const ip = c.State === 'running' ? containerAddress(c.NetworkSettings, this.#config.network) : null
      replicas.push({
        id: c.Id,
        name: (c.Names[0] ?? '').replace(/^\//, ''),
        key: port,
        address: await this.#upstream.address(ip, this.#config.containerPort, this.#published(port)),
        // The list API has no start time; creation time is close enough for adopted replicas.
        startedAt: c.Created * 1000,
        running: c.State === 'running',
        image: c.ImageID
      })
    }
    return replicas
  }

  /**
   * Create and start the replica published on `port`.
   * @throws StartError when the port is in use or the engine refuses; nothing is left behind.
   */
  async start (port: number, image: string = this.#config.image): Promise<Replica> {
    const docker = this.#client()
    const cfg = this.#config
    const name = replicaName(cfg.service, port)

    const portKey = `${cfg.containerPort}/tcp`
    const hostConfig: Docker.HostConfig = {
      PortBindings: { [portKey]: [{ HostIp: cfg.publishHost, HostPort: String(port) }] },
      // The healer replaces dead replicas itself; Docker restarting them too would race it.
      RestartPolicy: { Name: 'no' }
    }
    if (cfg.network !== null) hostConfig.NetworkMode = cfg.network
    if (cfg.memory > 0) hostConfig.Memory = cfg.memory
    if (cfg.cpus > 0) hostConfig.NanoCpus = Math.round(cfg.cpus * 1e9)

    const spec: Docker.ContainerCreateOptions = {
      name,
      Image: image,
      Env: [...cfg.env],
      ...(cfg.command !== null ? { Cmd: splitCommand(cfg.command) } : {}),
      Labels: replicaLabels(cfg.service, port),
      ExposedPorts: { [portKey]: {} },
      HostConfig: hostConfig
    }
    let container: Docker.Container | null = null
    // 409: a container holds the name, a leftover (a dead replica not yet removed, or one from an
    // earlier run the caller chose not to adopt; the caller has decided this port is free): it is
    // removed and the create tried again. Removing first on every start cost one engine call per
    // start for a case that is rare (issue 19: a rollout's steps are container starts). A leftover
    // whose removal is already in progress (the reconciler removing an exited replica at the same
    // moment) keeps the name a little longer: wait for it, a few times, then give up.
    for (let attempt = 0; container === null; attempt++) {
      try {
        container = await docker.createContainer(spec)
      } catch (err) {
        if (statusOf(err) !== 409 || attempt >= 10) throw new StartError(`cannot create ${name}: ${messageOf(err)}`, { cause: err })
        if (attempt > 0) await sleep(200)
        await removeQuietly(docker.getContainer(name))
      }
    }
    try {
      await container.start()
    } catch (err) {
      // Created but not started: remove it, or every failed attempt would leak a container.
      await removeQuietly(container)
      if (PORT_IN_USE.test(messageOf(err))) {
        throw new PortInUseError(`cannot start ${name}: port ${port} is already in use on ${cfg.publishHost}`, { cause: err })
      }
      throw new StartError(`cannot start ${name}: ${messageOf(err)}`, { cause: err })
    }
    let ip: string | null = null
    let imageId: string | undefined
    try {
      const info = await container.inspect()
      ip = containerAddress(info.NetworkSettings, cfg.network)
      imageId = info.Image
    } catch {
      // Started but not inspectable (it died at once and was removed, or the engine hiccuped):
      // the published port still leads to it, and an exit event replaces it if it is gone.
    }
    const address = await this.#upstream.address(ip, cfg.containerPort, this.#published(port))
    return { id: container.id, name, key: port, address, startedAt: Date.now(), running: true, ...(imageId !== undefined ? { image: imageId } : {}) }
  }

  #published (port: number): Address {
    return { host: dialHost(this.#config.publishHost), port }
  }

  /**
   * SIGTERM, up to graceMs (rounded up to whole seconds, Docker's unit), SIGKILL, then remove.
   * An absent or already stopped container is fine. The engine reports the exit through
   * events() like any other: consumers tell their own stops apart by id.
   */
  async stop (replica: Replica, graceMs: number): Promise<void> {
    const container = this.#client().getContainer(replica.id)
    try {
      await container.stop({ t: Math.max(0, Math.ceil(graceMs / 1000)) })
    } catch (err) {
      // 304: already stopped; 404: already gone. Both are what stop() wants.
      const status = statusOf(err)
      if (status !== 304 && status !== 404) throw err
    }
    await removeQuietly(container)
  }

  /**
   * Exits of this service's containers until `signal` aborts (or close()). One `exit` per
   * container death, its reason `kill`/`oom` when the engine reported one just before `die`.
   * When the stream breaks: `disconnected`, reconnect with backoff (100 ms doubling to 5 s),
   * `reconnected`, and replay what happened in between (`since` the last event seen).
   */
  async * events (signal: AbortSignal): AsyncGenerator<RuntimeEvent> {
    const docker = this.#client()
    const stop = AbortSignal.any([signal, this.#closed.signal])
    const filters = { label: serviceLabelFilter(this.#config.service), event: ['die', 'oom', 'kill'], type: ['container' as const] }
    /** Last event's timeNano: the resume point, and the guard against replayed duplicates. */
    let lastNano = 0n
    /** kill/oom seen per container, consumed by its die. */
    const pending = new Map<string, 'kill' | 'oom'>()
    let connected = true
    let backoff = BACKOFF_MIN_MS

    while (!stop.aborted) {
      let stream: NodeJS.ReadableStream | null = null
      let onAbort: (() => void) | null = null
      let failure: Error
      try {
        const since = lastNano === 0n ? undefined : formatSince(lastNano)
        // `since` goes out as the engine's seconds.nanoseconds string (the typings say number).
        const opts = { filters, abortSignal: stop, ...(since !== undefined ? { since } : {}) }
        const s = await docker.getEvents(opts as Docker.GetEventsOptions)
        stream = s
        onAbort = () => (s as { destroy?: () => void }).destroy?.()
        stop.addEventListener('abort', onAbort, { once: true })
        if (!connected) {
          connected = true
          yield { type: 'reconnected' }
        }
        backoff = BACKOFF_MIN_MS
        let buf = ''
        for await (const chunk of s) {
          buf += chunk.toString()
          let nl: number
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim()
            buf = buf.slice(nl + 1)
            if (line === '') continue
            const ev = parseEvent(line)
            if (ev === null || ev.timeNano <= lastNano) continue
            lastNano = ev.timeNano
            if (ev.action === 'kill' || ev.action === 'oom') {
              // oom outranks the kill that usually follows it.
              if (pending.get(ev.id) !== 'oom') pending.set(ev.id, ev.action)
              continue
            }
            const reason = pending.get(ev.id) ?? 'die'
            pending.delete(ev.id)
            yield { type: 'exit', id: ev.id, port: ev.port, reason }
          }
        }
        failure = new Error('Docker event stream ended')
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err))
      } finally {
        if (onAbort !== null) stop.removeEventListener('abort', onAbort)
        // Also reached when the consumer breaks out of its loop: never leave the request open.
        ;(stream as { destroy?: () => void } | null)?.destroy?.()
      }
      if (stop.aborted) return
      if (connected) {
        connected = false
        yield { type: 'disconnected', error: failure }
      }
      try {
        await sleep(backoff, undefined, { signal: stop })
      } catch {
        return // aborted while waiting: the timer is already cleared
      }
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS)
    }
  }

  /** Ends open events() streams. Replicas keep running. Idempotent. */
  async close (): Promise<void> {
    this.#closed.abort()
  }

  #client (): Docker {
    if (this.#docker === null) {
      throw new DockerUnavailableError(
        `cannot use Docker engine address ${this.#endpoint} (${messageOf(this.#setupError)}): ` +
        'set DOCKER_HOST like unix:///var/run/docker.sock or tcp://host:2375', { cause: this.#setupError })
    }
    return this.#docker
  }

  #imageError (image: string, err: unknown): ImageUnavailableError {
    return new ImageUnavailableError(
      `image ${image} is not present on the Docker engine and could not be pulled ` +
      `(${messageOf(err)}): build or load it first (docker build -t ${image} … / docker load), ` +
      'or check --image and registry access', { cause: err })
  }
}

/** Remove a container whatever its state; absent (404) or already being removed (409) is fine. */
async function removeQuietly (container: Docker.Container): Promise<void> {
  try {
    await container.remove({ force: true })
  } catch (err) {
    const status = statusOf(err)
    if (status !== 404 && status !== 409) throw err
  }
}

/** The engine address for messages: the explicit one, or what dockerode resolved. */
function describeEndpoint (dockerHost: string | undefined, docker: Docker | null): string {
  if (dockerHost !== undefined && dockerHost !== '') return dockerHost
  const modem = docker?.modem as { host?: string, port?: string | number, socketPath?: unknown } | undefined
  if (modem?.host !== undefined) return `tcp://${modem.host}:${String(modem.port ?? '')}`
  if (typeof modem?.socketPath === 'string') return `unix://${modem.socketPath}`
  // dockerode resolves the default lazily (it prefers ~/.docker/run/docker.sock when present).
  return 'unix:///var/run/docker.sock (default socket)'
}
