/**
 * The --http-port App: every request gets 308 to the same path and query over HTTPS (RFC 9110
 * 15.4.9: the method and body are kept on the redirected request), except ACME's HTTP-01
 * challenges (RFC 8555 8.3) when a challenge directory is set: `GET
 * /.well-known/acme-challenge/<token>` answers the file `<dir>/<token>` as text/plain, or 404.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { HttpRequest, HttpResponse } from 'uWebSockets.js'
import { W_ACME_CHALLENGES, W_REDIRECTS } from '../table/layout'
import { uWS } from '../uws'
import { withHttpTimeouts } from '../uws/timeouts'
import type { ClosableApp } from './listener'

const CHALLENGE_PREFIX = '/.well-known/acme-challenge/'
/** RFC 8555 8.3: a token is base64url; the length bound keeps a file name sane. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/
/** A Host header's host: a DNS name or IPv4 address, or an IPv6 literal in brackets; then an optional port. */
const HOST = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

export interface RedirectOptions {
  /** The public HTTPS port (omitted from the Location when 443). */
  readonly httpsPort: number
  readonly acmeChallengeDir: string | null
  readonly i32: Int32Array
  readonly wbase: number
}

/** The redirecting App; listen on it with a Listener of its own. */
export function createRedirectApp (options: RedirectOptions): ClosableApp {
  const { httpsPort, acmeChallengeDir, i32, wbase } = options
  const portSuffix = httpsPort === 443 ? '' : `:${httpsPort}`
  const app = withHttpTimeouts(uWS.App()) as ClosableApp
  app.any('/*', (res: HttpResponse, req: HttpRequest) => {
    const url = req.getUrl()
    if (acmeChallengeDir !== null && url.startsWith(CHALLENGE_PREFIX) && req.getMethod() === 'get') {
      Atomics.add(i32, wbase + W_ACME_CHALLENGES, 1)
      answerChallenge(res, acmeChallengeDir, url.slice(CHALLENGE_PREFIX.length))
      return
    }
    const m = HOST.exec(req.getHeader('host'))
    if (m === null) {
      res.writeStatus('400 Bad Request').writeHeader('content-type', 'text/plain').end('a Host header is needed to redirect to HTTPS\n', true)
      return
    }
    const query = req.getQuery()
    const location = `https://${m[1]}${portSuffix}${url}${query === undefined || query === '' ? '' : '?' + query}`
    Atomics.add(i32, wbase + W_REDIRECTS, 1)
    res.writeStatus('308 Permanent Redirect').writeHeader('location', location).end()
  })
  return app
}

/** The challenge file's content, read without blocking the loop; 404 when absent or the token is malformed. */
function answerChallenge (res: HttpResponse, dir: string, token: string): void {
  if (!TOKEN.test(token)) {
    notFound(res)
    return
  }
  let aborted = false
  res.onAborted(() => { aborted = true })
  readFile(join(dir, token)).then((body) => {
    if (aborted) return
    res.cork(() => { res.writeStatus('200 OK').writeHeader('content-type', 'text/plain').end(body) })
  }, () => {
    if (aborted) return
    res.cork(() => { notFound(res) })
  })
}

function notFound (res: HttpResponse): void {
  res.writeStatus('404 Not Found').writeHeader('content-type', 'text/plain').end('no such challenge\n')
}
