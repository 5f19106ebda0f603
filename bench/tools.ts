/**
 * The bench's outside tools (nginx, haproxy, wrk): where they are, and installing the missing ones
 * with apt-get when the bench runs as root. A tool that is still missing is skipped, not an error.
 */
import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import path from 'node:path'

export type ToolName = 'nginx' | 'haproxy' | 'wrk'

/** The Debian package of each tool. */
const PACKAGES: Record<ToolName, string> = { nginx: 'nginx', haproxy: 'haproxy', wrk: 'wrk' }

/** Where the tools are: an absolute path, or null when missing; `notes` says what was done or is to do. */
export interface Tools {
  readonly paths: Record<ToolName, string | null>
  readonly notes: string[]
}

/** Absolute path of `name` on PATH (plus /usr/sbin and /sbin, where Debian puts nginx and haproxy), or null. */
export function which (name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin']
  for (const dir of dirs) {
    if (dir === '') continue
    const file = path.join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {}
  }
  return null
}

/** Version line of a tool, for the JSON (best effort). */
export function version (tool: ToolName, file: string): string {
  const args = tool === 'nginx' ? ['-v'] : tool === 'haproxy' ? ['-v'] : ['--version']
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 5000 })
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`
  const line = text.split('\n').find((l) => l.trim() !== '')?.trim() ?? 'unknown'
  return line.replace(/^nginx version: /, '').replace(/ Copyright.*$/, '')
}

/**
 * Find `wanted`; when some are missing, `install` is true and this process is root, run
 * `apt-get update` and `apt-get install` for them (bounded: 5 minutes each), then look again.
 */
export function ensureTools (wanted: readonly ToolName[], install: boolean, log: (line: string) => void): Tools {
  const find = (): Record<ToolName, string | null> => ({ nginx: which('nginx'), haproxy: which('haproxy'), wrk: which('wrk') })
  let paths = find()
  const notes: string[] = []
  const missing = (): ToolName[] => wanted.filter((t) => paths[t] === null)
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (missing().length > 0 && install && root && which('apt-get') !== null) {
    const pkgs = missing().map((t) => PACKAGES[t])
    log(`installing ${pkgs.join(' ')} with apt-get (missing)`)
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    const opts = { env, encoding: 'utf8' as const, timeout: 300_000, stdio: ['ignore', 'pipe', 'pipe'] as Array<'ignore' | 'pipe'> }
    const up = spawnSync('apt-get', ['update', '-qq'], opts)
    const inst = up.status === 0
      ? spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], opts)
      : up
    if (inst.status !== 0) {
      const why = inst.error?.message ?? `exit ${String(inst.status ?? inst.signal)}`
      notes.push(`apt-get install ${pkgs.join(' ')} failed (${why}): ${(inst.stderr ?? '').trim().split('\n').slice(-3).join(' / ')}`)
    }
    paths = find()
  }
  for (const t of missing()) {
    notes.push(`${t} is not installed: ${root ? '' : 'as root, '}\`apt-get install ${PACKAGES[t]}\` to add it; ` +
      `${t === 'wrk' ? 'autocannon drives the load instead' : `the ${t} target is skipped`}`)
  }
  for (const n of notes) log(n)
  return { paths, notes }
}
