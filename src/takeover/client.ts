/**
 * The new instance's side of `--takeover` (main thread, at start-up): find the instance that
 * holds the service's lease (its admin address is in the lease record), ask it to begin the
 * hand-over (it stops its loops, releases the lease and answers with its request window), and,
 * once this one serves, ask it to drain. Any failure before the begin step is accepted is a
 * TakeoverError (exit 21) and has changed nothing.
 */
import { request } from 'undici'
import { TakeoverError } from '../errors'
import type { Holder } from '../lease/carrier'
import type { Lease } from '../lease/lease'

/** How long each admin call may take. */
const CALL_TIMEOUT_MS = 10_000

/** A begun takeover: who hands over, and its request window (oldest second first). */
export interface Begun {
  readonly from: Holder
  readonly window: readonly number[]
}

/** `host:port` as the lease records it, made reachable: a wildcard address means this host's loopback. */
export function adminUrl (admin: string, path: string): string {
  const i = admin.lastIndexOf(':')
  let host = admin.slice(0, i)
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1'
  else if (host === '::') host = '::1'
  if (host.includes(':')) host = `[${host}]`
  return `http://${host}:${admin.slice(i + 1)}${path}`
}

async function post (from: Holder, step: 'begin' | 'drain', token: string | null, who: string): Promise<{ status: number, body: unknown }> {
  let res
  try {
    res = await request(adminUrl(from.admin, '/takeover'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token !== null ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ step }),
      headersTimeout: CALL_TIMEOUT_MS,
      bodyTimeout: CALL_TIMEOUT_MS
    })
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new TakeoverError(`${who} does not answer at its admin address ${from.admin} (${e.code ?? e.message}); nothing changed. Is its --admin-host reachable from here?`, { cause: err })
  }
  const text = await res.body.text()
  let body: unknown = null
  try { body = JSON.parse(text) } catch {}
  return { status: res.statusCode, body }
}

function refusal (status: number, body: unknown, who: string): TakeoverError {
  if (status === 401) return new TakeoverError(`${who} refused the takeover: its admin API needs a token and this one's --admin-token does not match; nothing changed. Start with the same --admin-token`)
  const message = (body as { error?: { message?: unknown } } | null)?.error?.message
  if (status === 404) return new TakeoverError(`${who} has no /takeover route (an older symphony); nothing changed. Stop it and start this one instead`)
  return new TakeoverError(`${who} refused the takeover (HTTP ${status}${typeof message === 'string' ? `: ${message}` : ''}); nothing changed`)
}

const describe = (service: string, h: Holder): string => `the symphony controlling service "${service}" (pid ${h.pid} on ${h.host})`

/** Ask the lease's holder to hand over. @throws TakeoverError (nothing changed) */
export async function beginTakeover (lease: Lease, service: string, token: string | null): Promise<Begun> {
  const record = await lease.current()
  if (record === null) throw new TakeoverError(`--takeover: no symphony controls service "${service}" here (no lease ${lease.describe}); nothing to take over. Start without --takeover`)
  const who = describe(service, record.holder)
  const { status, body } = await post(record.holder, 'begin', token, who)
  if (status !== 200) throw refusal(status, body, who)
  const window = (body as { window?: unknown } | null)?.window
  if (!Array.isArray(window) || !window.every((n) => typeof n === 'number')) throw new TakeoverError(`${who} answered the takeover without a request window; it released its lease and waits: stop it (SIGTERM) and start this one without --takeover`)
  return { from: record.holder, window }
}

/** Tell the old instance that this one serves: it drains and exits. @throws TakeoverError */
export async function finishTakeover (begun: Begun, service: string, token: string | null): Promise<void> {
  const who = describe(service, begun.from)
  const { status, body } = await post(begun.from, 'drain', token, who)
  if (status !== 202) throw refusal(status, body, who)
}
