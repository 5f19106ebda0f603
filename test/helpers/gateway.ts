import { loadConfig } from '../../src/config/load'
import type { Config } from '../../src/config/types'
import { startGateway, type Gateway } from '../../src/composition-root'
import { createLogger } from '../../src/log'

/** Build a Config the way the CLI does, from flags (plus quiet, ephemeral-port defaults). */
export function configFrom (args: string[]): Config {
  const r = loadConfig(['--port', '0', '--admin-port', '0', '--log-level', 'warn', ...args], {})
  if (!('config' in r)) throw new Error('expected a config')
  return r.config
}

/** Start a real gateway (real uWS worker threads) in this process; stopped by `t.teardown`. */
export async function startTestGateway (t: { teardown: (fn: () => unknown) => void }, args: string[]): Promise<Gateway & { url: string, admin: string }> {
  const config = configFrom(args)
  const gw = await startGateway(config, createLogger('warn', (line) => process.stderr.write(line)))
  t.teardown(() => gw.stop())
  return Object.assign(gw, { url: `http://127.0.0.1:${gw.port}`, admin: `http://127.0.0.1:${gw.adminPort}` })
}

export function sleep (ms: number): Promise<void> { return new Promise((resolve) => setTimeout(resolve, ms)) }

/** Poll `check` every 20 ms until it is true or `ms` passed; returns the last result. */
export async function waitFor (check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > end) return false
    await sleep(20)
  }
}
