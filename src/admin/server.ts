import { createHash, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import { AdminErrorCodes, ListenError, type AdminErrorCode } from '../errors'

/** A route handler of the admin API: status code, content type and body. */
export type AdminRoute = () => Promise<{ status: number, type: string, body: string }> | { status: number, type: string, body: string }

/**
 * The admin listener (main thread, node:http: a handful of requests a second at most).
 * GET only; anything else is 405, unknown paths 404, both as small JSON.
 */
export class AdminServer {
  private readonly server: http.Server
  private closed = false

  private readonly tokenHash: Buffer | null

  /**
   * @param token bearer token required on every route but the probes (/healthz, /readyz, which
   *   reveal nothing and must work for load balancers that cannot send headers); null = none.
   */
  constructor (private readonly routes: Readonly<Record<string, AdminRoute>>, token: string | null = null) {
    this.tokenHash = token === null ? null : sha256(token)
    this.server = http.createServer((req, res) => { void this.handle(req, res) })
    this.server.keepAliveTimeout = 5_000
  }

  private async handle (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    const route = this.routes[path]
    try {
      if (this.tokenHash !== null && path !== '/healthz' && path !== '/readyz' && !this.authorized(req.headers.authorization)) {
        res.setHeader('www-authenticate', 'Bearer realm="symphony-admin"')
        return sendError(res, 401, AdminErrorCodes.UNAUTHORIZED, 'this admin API needs "Authorization: Bearer <--admin-token>"')
      }
      if (route === undefined) return sendError(res, 404, AdminErrorCodes.NOT_FOUND, `no admin route ${path}; try /status, /metrics, /healthz, /readyz`)
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD')
        return sendError(res, 405, AdminErrorCodes.METHOD, 'admin routes accept GET only')
      }
      const out = await route()
      send(res, out.status, out.type, req.method === 'HEAD' ? '' : out.body)
    } catch (err) {
      sendError(res, 500, AdminErrorCodes.INTERNAL, (err as Error).message)
    }
  }

  /** Constant-time comparison (of hashes, so lengths never leak either). */
  private authorized (header: string | undefined): boolean {
    if (header === undefined || !header.startsWith('Bearer ')) return false
    return timingSafeEqual(sha256(header.slice(7).trim()), this.tokenHash as Buffer)
  }

  /** Bind; resolves with the actual port (0 picks a free one). */
  listen (host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new ListenError(`admin listener cannot bind ${host}:${port} (${err.code ?? err.message}); choose another --admin-port or --admin-host`, { cause: err }))
      }
      this.server.once('error', onError)
      this.server.listen(port, host, () => {
        this.server.off('error', onError)
        resolve((this.server.address() as { port: number }).port)
      })
    })
  }

  /** Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

function send (res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

/** The data plane's error body shape (src/worker/respond.ts), with an admin code. */
function sendError (res: http.ServerResponse, status: number, code: AdminErrorCode, message: string): void {
  send(res, status, 'application/json', JSON.stringify({ error: { code, message } }))
}

function sha256 (s: string): Buffer { return createHash('sha256').update(s).digest() }
