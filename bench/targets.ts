/**
 * Starting the proxies under test, each pinned to the proxy CPU and in front of the same two
 * backends: symphony (the real CLI, one thread), nginx (one worker) and HAProxy (one thread),
 * the latter two from the templates bench/nginx.conf and bench/haproxy.cfg, written to a temp dir.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { type Child, type Children, freePort, treeCpuTicks, treeUserTicks, waitFor200 } from './procs'

/** dist/bench/targets.js → the repository root. */
const ROOT = path.resolve(__dirname, '..', '..')

/** A running proxy. */
export interface Proxy {
  /** `baseline`: a second symphony build (--baseline), for an A/B in the same rounds. */
  readonly name: 'symphony' | 'baseline' | 'nginx' | 'haproxy'
  readonly port: number
  readonly child: Child
  /** The command line, for the JSON. */
  readonly command: string
  /** CPU ticks of the proxy: its process and every descendant (nginx: master + worker). */
  cpuTicks (): number
  /** The user-space part of cpuTicks (utime only). */
  userTicks (): number
}

/** Fill `{{KEY}}` fields; throws if one is left. */
export function renderTemplate (text: string, fields: Record<string, string | number>): string {
  const out = text.replace(/\{\{([A-Z_]+)\}\}/g, (whole, key: string) => key in fields ? String(fields[key]) : whole)
  const left = /\{\{[A-Z_]+\}\}/.exec(out)
  if (left !== null) throw new Error(`template field ${left[0]} has no value`)
  return out
}

/** A temp dir for one proxy's config, pid file, logs and temp files, removed by `cleanup()`. */
export class TempDirs {
  private readonly dirs: string[] = []
  make (prefix: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), `symphony-bench-${prefix}-`))
    // nginx's worker runs as nobody when the master is root and creates its temp dirs here.
    chmodSync(dir, 0o755)
    this.dirs.push(dir)
    return dir
  }

  cleanup (): void {
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  }
}

async function ready (child: Child, port: number, name: string, readyPath = '/'): Promise<void> {
  await Promise.race([
    waitFor200(`http://127.0.0.1:${port}${readyPath}`, 30_000),
    child.exited.then((code) => { throw new Error(`${name} exited (${code}) before it was ready\n${child.tail()}`) })
  ])
}

function proxy (name: Proxy['name'], port: number, child: Child, env: Readonly<Record<string, string>> = {}): Proxy {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v} `).join('')
  return { name, port, child, command: vars + child.proc.spawnargs.join(' '), cpuTicks: () => treeCpuTicks(child.pid), userTicks: () => treeUserTicks(child.pid) }
}

/**
 * symphony with `--threads 1` in front of `backends` (ports on 127.0.0.1; none with --image in
 * `extra`), its admin listener on `adminPort`; `extra` flags last (`--threads` there replaces the 1).
 * `root`: the tree to run it from (another build, for --baseline); `chroot`: a root filesystem that
 * `root` lies in, run with that filesystem's own Node (chroot execs it: the PID measured is node's).
 * `env`: variables set for symphony alone (`--symphony-env`), such as glibc's tunables.
 */
export async function startSymphony (children: Children, backends: readonly number[], adminPort: number, cpu: number | null, extra: readonly string[] = [],
  readyPath = '/', root = ROOT, name: 'symphony' | 'baseline' = 'symphony', chroot: string | null = null, env: Readonly<Record<string, string>> = {}): Promise<Proxy> {
  // freePort() closes its probe socket, so two calls before anything binds can return the same port.
  let port = await freePort()
  while (port === adminPort) port = await freePort()
  const [cmd, ...pre] = chroot === null ? [process.execPath] : ['chroot', chroot, '/usr/local/bin/node']
  const child = children.spawn(name, cmd as string, [
    ...pre,
    path.join(root, 'bin', 'symphony.js'),
    ...backends.flatMap((p) => ['--backend', `127.0.0.1:${p}`]),
    '--host', '127.0.0.1', '--port', String(port), '--admin-port', String(adminPort),
    ...(extra.includes('--threads') ? [] : ['--threads', '1']),
    ...extra
  ], cpu, undefined, env)
  await ready(child, port, name, readyPath)
  return proxy(name, port, child, env)
}

/** nginx, 1 worker, from bench/nginx.conf, in front of ports on 127.0.0.1. */
export async function startNginx (children: Children, nginx: string, backends: readonly number[], cpu: number | null, tmp: TempDirs): Promise<Proxy> {
  return await startNginxAt(children, nginx, backends.map((b) => `127.0.0.1:${b}`), cpu, tmp)
}

/** nginx from bench/nginx.conf in front of `upstreams` (HOST:PORT), with `workers` worker processes. */
export async function startNginxAt (children: Children, nginx: string, upstreams: readonly string[], cpu: number | null, tmp: TempDirs,
  options: { readonly workers?: number, readonly readyPath?: string } = {}): Promise<Proxy> {
  const port = await freePort()
  const dir = tmp.make('nginx')
  const conf = renderTemplate(readFileSync(path.join(ROOT, 'bench', 'nginx.conf'), 'utf8'),
    { DIR: dir, PORT: port, WORKERS: options.workers ?? 1, SERVERS: upstreams.map((u) => `    server ${u};`).join('\n') })
  writeFileSync(path.join(dir, 'nginx.conf'), conf)
  const child = children.spawn('nginx', nginx,
    ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], cpu)
  await ready(child, port, 'nginx', options.readyPath).catch((err: Error) => { throw new Error(`${err.message}\n${tailFile(path.join(dir, 'error.log'))}`) })
  return proxy('nginx', port, child)
}

/** HAProxy, 1 thread, from bench/haproxy.cfg. */
export async function startHaproxy (children: Children, haproxy: string, backends: readonly number[], cpu: number | null, tmp: TempDirs): Promise<Proxy> {
  const port = await freePort()
  const dir = tmp.make('haproxy')
  const cfg = renderTemplate(readFileSync(path.join(ROOT, 'bench', 'haproxy.cfg'), 'utf8'),
    { PORT: port, SERVERS: backends.map((b, i) => `  server b${i} 127.0.0.1:${b}`).join('\n') })
  writeFileSync(path.join(dir, 'haproxy.cfg'), cfg)
  const child = children.spawn('haproxy', haproxy, ['-f', path.join(dir, 'haproxy.cfg'), '-db'], cpu, dir)
  await ready(child, port, 'haproxy')
  return proxy('haproxy', port, child)
}

function tailFile (file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join('\n')
  } catch {
    return ''
  }
}
