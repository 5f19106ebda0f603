import type { ConnectionsStatus } from '../admin/status'
import type { Config } from '../config/types'
import { ClientConnections, CONNECTION_COUNT_MAX_AGE_MS, ConnectionLimit, type ConnectionSource } from '../gateway/connection-limit'
import { ThreadConnections } from '../gateway/thread-connections'
import type { ProxyWorkers } from '../gateway/proxy-threads'
import type { Logger } from '../log'
import { uwsRuntime } from '../uws'

/**
 * The clients' side of the listen sockets: the connection count and --max-connections. Both need
 * the bound port, so they exist only once the threads listen; until then they read as none.
 */
export class Clients {
  private connections: ConnectionSource | null = null
  private limit: ConnectionLimit | null = null

  constructor (private readonly config: Config) {}

  /** Begin counting the connections to `port`, and enforce --max-connections when set. */
  start (port: number, workers: ProxyWorkers, log: Logger): void {
    // Counted by the threads where the uWS build tells them of every connection, else from /proc/net.
    this.connections = uwsRuntime.filter
      ? new ThreadConnections(workers.i32, this.config.threads)
      : new ClientConnections(this.config.host, port)
    if (this.config.maxConnections > 0) {
      this.limit = new ConnectionLimit({ limit: this.config.maxConnections, connections: this.connections, gate: workers, log })
      this.limit.start()
    }
  }

  /** Client connections now (a count at most CONNECTION_COUNT_MAX_AGE_MS old); 0 before start. */
  count (): number {
    return this.connections?.recentCount(CONNECTION_COUNT_MAX_AGE_MS) ?? 0
  }

  /** Times the limit closed the listen sockets. */
  get pauses (): number {
    return this.limit?.pauses ?? 0
  }

  /** For /status; null before the threads listen. */
  status (): ConnectionsStatus | null {
    if (this.connections === null) return null
    return { clients: this.count(), limit: this.config.maxConnections, accepting: this.limit?.accepting ?? true }
  }

  /** Stop the limit's poll. Idempotent. */
  close (): void {
    this.limit?.close()
  }
}

/**
 * Start-up step 5: the proxy threads listen (resolving --port 0 to a real port), then the
 * connection count and limit begin on that port. Resolves with the port.
 */
export async function startThreads (workers: ProxyWorkers, clients: Clients, log: Logger): Promise<number> {
  const port = await workers.start()
  clients.start(port, workers, log)
  return port
}
