import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import type { Config } from '../config/types'
import { StartError, PortInUseError } from '../errors'
import type { Replica, Runtime, RuntimeEvent } from './types'
import { replicaName, splitCommand } from './names'
import { REPLICA_ENV, alive, findReplicaProcesses, replicaMark } from './orphans'

/** The parts of the configuration the process runtime needs. */
export type ProcessRuntimeConfig = Pick<Config, 'service' | 'env'> & { readonly command: string }

export interface ProcessRuntimeOptions {
  /** Working directory of the children. Default: this process's. */
  readonly cwd?: string
  /**
   * Where the children's stdout and stderr go. Default 'stderr': our stderr, never our stdout,
   * which may be a machine-read stream (tap's TAP, a JSON log pipe).
   */
  readonly output?: 'stderr' | 'ignore'
}

interface Child {
  /** null for a process adopted from an earlier symphony (not our child: polled, not awaited). */
  readonly proc: ChildProcess | null
  readonly pid: number
  readonly replica: Replica
  running: boolean
  readonly exited: Promise<void>
}

/**
 * Replicas as local processes (`--runtime process --command "node app.js"`): each child gets
 * PORT=<host port> and listens on 127.0.0.1 or a wildcard address.
 *
 * Each child carries SYMPHONY_REPLICA=<service>:<port> in its environment, so that after a
 * restart (even one after SIGKILL, which leaves the children running) init() finds and adopts
 * them, as the Docker runtime adopts containers by label. Adopted processes are not our
 * children: their exit is noticed by polling every ADOPTED_POLL_MS.
 */
export class ProcessRuntime implements Runtime {
  readonly kind = 'process'
  readonly #config: ProcessRuntimeConfig
  readonly #argv: string[]
  readonly #cwd: string
  readonly #output: 'stderr' | 'ignore'
  /** By id (`pid:<n>`); exited children stay until stop(), as dead containers stay until removed. */
  readonly #children = new Map<string, Child>()
  readonly #subscribers = new Set<(event: RuntimeEvent) => void>()
  readonly #closed = new AbortController()
  #poll: NodeJS.Timeout | null = null
  /** Resolvers of adopted processes' `exited`, by pid, until the poll sees them gone. */
  readonly #gone = new Map<number, () => void>()
  static readonly ADOPTED_POLL_MS = 500

  constructor (config: ProcessRuntimeConfig, options: ProcessRuntimeOptions = {}) {
    this.#config = config
    this.#argv = splitCommand(config.command)
    this.#cwd = options.cwd ?? process.cwd()
    this.#output = options.output ?? 'stderr'
  }

  /** Checks that there is a command, and adopts replica processes an earlier symphony left. */
  async init (): Promise<void> {
    if (this.#argv.length === 0) throw new StartError('the process runtime needs a --command')
    const ours = new Set([...this.#children.values()].map((c) => c.pid))
    for (const { pid, port } of findReplicaProcesses(this.#config.service, ours)) {
      const replica: Replica = { id: `pid:${pid}`, name: replicaName(this.#config.service, port), key: port, address: { host: '127.0.0.1', port }, startedAt: Date.now(), running: true }
      this.#children.set(replica.id, { proc: null, pid, replica, running: true, exited: this.#exitOf(pid) })
    }
    if ([...this.#children.values()].some((c) => c.proc === null)) this.#startPolling()
  }

  /** The children this instance started and has not stopped, running or exited. */
  async list (): Promise<Replica[]> {
    return [...this.#children.values()].map((c) => ({ ...c.replica, running: c.running }))
  }

  /**
   * Spawn the command with PORT=<port>.
   * @throws StartError when the port is taken or the command cannot be spawned.
   */
  async start (port: number): Promise<Replica> {
    if (this.#argv.length === 0) throw new StartError('the process runtime needs a --command')
    // A child that cannot bind only says so by exiting; probe first so that a taken port fails
    // start() as it does with Docker. (A race remains; the exit event then reports it.)
    if (!(await portFree(port))) {
      throw new PortInUseError(`cannot start ${replicaName(this.#config.service, port)}: port ${port} is already in use`)
    }
    const env: Record<string, string | undefined> = { ...process.env, PORT: String(port), [REPLICA_ENV]: replicaMark(this.#config.service, port) }
    for (const pair of this.#config.env) {
      const eq = pair.indexOf('=')
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1)
    }
    const [file, ...args] = this.#argv as [string, ...string[]]
    const fd = this.#output === 'stderr' ? 2 : 'ignore'
    const proc = spawn(file, args, {
      cwd: this.#cwd,
      env,
      stdio: ['ignore', fd, fd],
      // Own process group: a terminal's Ctrl-C reaches symphony alone, which drains and then
      // stops the replicas itself; and stop() can signal the whole group (npm → sh → node).
      detached: true
    })
    try {
      await once(proc, 'spawn')
    } catch (err) {
      throw new StartError(`cannot spawn ${this.#argv.join(' ')}: ${(err as Error).message}`, { cause: err })
    }
    const pid = proc.pid as number
    const replica: Replica = {
      id: `pid:${pid}`,
      name: replicaName(this.#config.service, port),
      key: port,
      address: { host: '127.0.0.1', port },
      startedAt: Date.now(),
      running: true
    }
    const exited = once(proc, 'exit').then(() => undefined, () => undefined)
    const child: Child = { proc, pid, replica, running: true, exited }
    proc.once('exit', (_code, signal) => {
      child.running = false
      const reason = signal === null ? 'die' : 'kill'
      this.#emit({ type: 'exit', id: replica.id, port, reason })
    })
    this.#children.set(replica.id, child)
    return replica
  }

  /** SIGTERM to the child's group, wait up to graceMs, then SIGKILL. Unknown ids are fine. */
  async stop (replica: Replica, graceMs: number): Promise<void> {
    const child = this.#children.get(replica.id)
    if (child === undefined) return
    if (child.running) {
      signalGroup(child, 'SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(resolve, graceMs, true) })
      const killed = await Promise.race([child.exited.then(() => false), timedOut])
      clearTimeout(timer)
      if (killed && child.running) {
        signalGroup(child, 'SIGKILL')
        await child.exited
      }
    }
    this.#children.delete(replica.id)
  }

  /** Child exits until `signal` aborts or close() is called. */
  async * events (signal: AbortSignal): AsyncGenerator<RuntimeEvent> {
    const stop = AbortSignal.any([signal, this.#closed.signal])
    if (stop.aborted) return
    const queue: RuntimeEvent[] = []
    let wake: (() => void) | null = null
    const push = (event: RuntimeEvent): void => { queue.push(event); wake?.() }
    const onAbort = (): void => { wake?.() }
    this.#subscribers.add(push)
    stop.addEventListener('abort', onAbort, { once: true })
    try {
      while (!stop.aborted) {
        const next = queue.shift()
        if (next !== undefined) {
          yield next
          continue
        }
        await new Promise<void>((resolve) => { wake = resolve })
        wake = null
      }
    } finally {
      this.#subscribers.delete(push)
      stop.removeEventListener('abort', onAbort)
    }
  }

  /**
   * Ends events() iterators, drops their subscriptions and lets this process exit without
   * waiting for the children. Kills none: stopping replicas is the caller's decision
   * (cleanupOnExit). Idempotent.
   */
  async close (): Promise<void> {
    this.#closed.abort()
    this.#subscribers.clear()
    if (this.#poll !== null) clearInterval(this.#poll)
    this.#poll = null
    for (const child of this.#children.values()) child.proc?.unref()
  }

  #emit (event: RuntimeEvent): void {
    for (const push of this.#subscribers) push(event)
  }

  /** Resolves when adopted process `pid` is gone (seen by the poll). */
  #exitOf (pid: number): Promise<void> {
    return new Promise<void>((resolve) => { this.#gone.set(pid, resolve) })
  }

  /** One timer for every adopted process, while any is left. */
  #startPolling (): void {
    if (this.#poll !== null) return
    this.#poll = setInterval(() => {
      for (const child of this.#children.values()) {
        if (child.proc !== null || !child.running || alive(child.pid)) continue
        child.running = false
        this.#gone.get(child.pid)?.()
        this.#gone.delete(child.pid)
        // Not our child: no exit status to read, so the reason is unknown; 'die' as for a crash.
        this.#emit({ type: 'exit', id: child.replica.id, port: child.replica.key, reason: 'die' })
      }
      if (this.#gone.size === 0 && this.#poll !== null) {
        clearInterval(this.#poll)
        this.#poll = null
      }
    }, ProcessRuntime.ADOPTED_POLL_MS)
    this.#poll.unref()
  }
}

function signalGroup (child: Child, sig: NodeJS.Signals): void {
  try {
    process.kill(-child.pid, sig)
  } catch {
    // The group is gone or was never formed; the child alone may still be there.
    try {
      if (child.proc !== null) child.proc.kill(sig)
      else process.kill(child.pid, sig)
    } catch {}
  }
}

/**
 * Whether nothing listens on `port`. Binding the wildcard conflicts with any listener on the
 * port, 127.0.0.1 or 0.0.0.0 alike (Linux, no SO_REUSEPORT).
 */
async function portFree (port: number): Promise<boolean> {
  const server = net.createServer()
  try {
    server.listen({ port, host: '0.0.0.0', exclusive: true })
    await once(server, 'listening')
  } catch {
    return false
  }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return true
}
