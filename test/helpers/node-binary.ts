import { execFileSync } from 'node:child_process'
import { accessSync, constants, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Where Node binaries fetched for tests are kept across runs (the first writable one). */
const CACHES = ['/var/cache/symphony-node', join(tmpdir(), 'symphony-node')]

function writable (dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true })
    accessSync(dir, constants.W_OK)
    return true
  } catch {
    return false
  }
}

/**
 * A Node.js binary of `major` (e.g. 24) for this platform, from the npm registry's
 * `node-<platform>-<arch>` package (the same binary nodejs.org ships), fetched once into a cache
 * and reused by later runs. `{ skip }` names why there is none: npm could not fetch it.
 */
export function nodeBinary (major: number): { path: string } | { skip: string } {
  for (const cache of CACHES) {
    if (!existsSync(cache)) continue
    const have = readdirSync(cache).filter((d) => d.startsWith(`${major}.`) && existsSync(join(cache, d, 'bin', 'node'))).sort()
    if (have.length > 0) return { path: join(cache, have[have.length - 1], 'bin', 'node') }
  }
  const cache = CACHES.find(writable)
  if (cache === undefined) return { skip: `no writable cache for a Node ${major} binary (${CACHES.join(', ')})` }
  const pkg = `node-${process.platform}-${process.arch}@^${major}`
  let tgz: string
  try {
    // About 50 MB; the registry is the only source (nodejs.org may be unreachable where npm is not).
    tgz = execFileSync('npm', ['pack', pkg, '--silent', '--pack-destination', cache], { encoding: 'utf8', timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n').pop() ?? ''
  } catch (err) {
    return { skip: `npm could not fetch ${pkg}: ${(err as Error).message.split('\n')[0]}` }
  }
  const version = /-(\d+\.\d+\.\d+)\.tgz$/.exec(tgz)?.[1]
  if (version === undefined) return { skip: `npm pack ${pkg} gave ${JSON.stringify(tgz)}` }
  const dir = join(cache, version)
  mkdirSync(dir, { recursive: true })
  execFileSync('tar', ['-xzf', join(cache, tgz), '-C', dir, '--strip-components=1', 'package/bin/node'])
  rmSync(join(cache, tgz), { force: true })
  return { path: join(dir, 'bin', 'node') }
}
