import { createHash, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import { AdminErrorCodes, ListenError, type AdminErrorCode } from '../errors'

/** What a route handler answers: status code, content type and body. */
export interface AdminAnswer { status: number, type: string, body: string }

/** A handler of the admin API; `body` is the request body (empty for GET). */
export type AdminHandler = (body: string) => Promise<AdminAnswer> | AdminAnswer

/**
 * A route: a handler (GET and HEAD), or a handler per method. Any method but GET and HEAD is a
 * write, which always needs the bearer token when --admin-token is set, whatever the path.
 */
export type AdminRoute = AdminHandler | { readonly [M in AdminMethod]?: AdminHandler }
export type AdminMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'

/** Longest request body a write route reads; a deploy's JSON is a few hundred bytes. */
const MAX_BODY_BYTES = 64 * 1024

/**
 * The admin listener (main thread, node:http: a handful of requests a second at most).
 * Each route declares its methods (GET when it is a bare handler); any other is 405, unknown
 * paths 404, both as small JSON.
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
    const read = req.method === 'GET' || req.method === 'HEAD'
    try {
      if (this.tokenHash !== null && (!read || (path !== '/healthz' && path !== '/readyz')) && !this.authorized(req.headers.authorization)) {
        res.setHeader('www-authenticate', 'Bearer realm="symphony-admin"')
        return sendError(res, 401, AdminErrorCodes.UNAUTHORIZED, 'this admin API needs "Authorization: Bearer <--admin-token>"')
      }
      if (route === undefined) return sendError(res, 404, AdminErrorCodes.NOT_FOUND, `no admin route ${path}; try /status, /metrics, /healthz, /readyz`)
      const methods: { readonly [M in AdminMethod]?: AdminHandler } = typeof route === 'function' ? { GET: route } : route
      const handler = methods[(req.method === 'HEAD' ? 'GET' : req.method) as AdminMethod]
      if (handler === undefined) {
        const allowed = Object.keys(methods).flatMap((m) => m === 'GET' ? ['GET', 'HEAD'] : [m])
        res.setHeader('allow', allowed.join(', '))
        return sendError(res, 405, AdminErrorCodes.METHOD, `${path} accepts ${allowed.join(', ')}`)
      }
      const body = read ? '' : await readBody(req)
      if (body === null) return sendError(res, 413, AdminErrorCodes.BODY_TOO_LARGE, `admin request bodies are at most ${MAX_BODY_BYTES} bytes`)
      const out = await handler(body)
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

/** The request body as text, or null past MAX_BODY_BYTES. */
async function readBody (req: http.IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) return null
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * The field `name` of a write's JSON object body (`{"image":…}`, `{"step":…}`); undefined when
 * the body is not JSON, not an object, or lacks it. The route checks the value's type.
 */
export function bodyField (body: string, name: string): unknown {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown> | null
    return typeof parsed === 'object' && parsed !== null ? parsed[name] : undefined
  } catch {
    return undefined
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
