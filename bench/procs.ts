/**
 * The bench's processes: spawning pinned children, stopping every one of them (also on Ctrl-C),
 * reading a process's CPU time from /proc, and waiting for a URL to answer 200.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'

/** CPUs to pin to, or null when taskset is missing or fewer than 2 CPUs exist. */
export interface Pinning { readonly proxyCpu: number, readonly loadCpu: number }

/** Proxy on CPU 0, backends and load generator on CPU 1, when that is possible here. */
export function choosePinning (): Pinning | null {
  if (os.availableParallelism() < 2) return null
  const probe = spawnSync('taskset', ['-c', '0,1', 'true'], { stdio: 'ignore' })
  return probe.status === 0 ? { proxyCpu: 0, loadCpu: 1 } : null
}

/**
 * Pin every thread of this process to `cpu`. `-a` matters: without it only the main thread
 * moves, and threads created later inherit the affinity of the thread that creates them.
 */
export function pinSelf (cpu: number): void {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' })
  if (r.status !== 0) throw new Error(`taskset could not pin the bench process to CPU ${cpu}`)
}

/**
 * Raise this process's open-file limit (soft and hard) to at least `n` with `prlimit`, so that it
 * and the children it spawns afterwards (they inherit it) can hold `idle10k`'s connections.
 * Returns what happened when it could not (not root, no prlimit), null when done or not needed.
 */
export function raiseFdLimit (n: number): string | null {
  const r = spawnSync('prlimit', ['--pid', String(process.pid), '--nofile', '--output', 'SOFT,HARD', '--noheadings', '--raw'], { encoding: 'utf8' })
  const [soft, hard] = (r.stdout ?? '').trim().split(/\s+/).map(Number)
  if (soft >= n && hard >= n) return null
  const set = spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${n}:${n}`], { encoding: 'utf8' })
  if (set.status === 0) return null
  // Raising the hard limit needs CAP_SYS_RESOURCE; at least take the soft limit up to the hard one.
  if (soft < hard) spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${hard}:${hard}`])
  return `the open-file limit stays ${Math.max(soft, hard)} (hard limit; prlimit: ${(set.stderr ?? '').trim().replace(/^prlimit: /, '') || 'failed'})`
}

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`; 100 when unknown). */
export function clockTicks (): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
  const n = Number(r.stdout?.trim())
  return Number.isInteger(n) && n > 0 ? n : 100
}

/** utime + stime of a process (all its threads), in clock ticks. */
export function cpuTicks (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(rest[11]) + Number(rest[12]) // fields 14 (utime) and 15 (stime)
}

/** utime alone of a process (all its threads), in clock ticks: the user-space share of its cost. */
export function userTicks (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[11])
}

/** utime of `pid` and every live descendant, in clock ticks (see treeCpuTicks). */
export function treeUserTicks (pid: number): number {
  return sumOverTree(pid, userTicks)
}

/**
 * utime + stime of `pid` and every live descendant (nginx's master and its worker), in clock
 * ticks. A descendant that ended during a run takes its ticks with it (until its parent reaps it).
 */
export function treeCpuTicks (pid: number): number {
  return sumOverTree(pid, cpuTicks)
}

/** `read` of `pid` and of every live descendant, summed; a process that ended meanwhile counts 0. */
function sumOverTree (pid: number, read: (pid: number) => number): number {
  let total = 0
  for (const p of [pid, ...descendants(pid)]) {
    try {
      total += read(p)
    } catch {} // ended meanwhile
  }
  return total
}

/** The live descendants of `pid` (children, their children, …), from /proc. */
export function descendants (pid: number): number[] {
  const parents = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue // ended meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    const list = parents.get(ppid) ?? []
    list.push(Number(name))
    parents.set(ppid, list)
  }
  const out: number[] = []
  const todo = [...(parents.get(pid) ?? [])]
  while (todo.length > 0) {
    const p = todo.pop() as number
    out.push(p)
    todo.push(...(parents.get(p) ?? []))
  }
  return out
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status: every thread shares it). */
export function rssBytes (pid: number): number {
  const m = /^VmRSS:\s+([0-9]+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? 0 : Number(m[1]) * 1024
}

/** RSS of `pid` and every live descendant (nginx: master + worker), in bytes. */
export function treeRssBytes (pid: number): number {
  return sumOverTree(pid, rssBytes)
}

/** utime and stime of the reaped children of this process (cutime + cstime), in clock ticks. */
export function reapedChildrenTicks (): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(rest[13]) + Number(rest[14]) // fields 16 (cutime) and 17 (cstime)
}

/** A free TCP port on 127.0.0.1 (closed again before it is handed out; fine on a quiet loopback). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

/** A spawned child with the last lines it wrote, for error messages. */
export interface Child {
  readonly name: string
  readonly proc: ChildProcess
  readonly pid: number
  /** Resolves with the first stdout line matching `test`; rejects if the child exits first. */
  firstLine (test: (line: string) => boolean, timeoutMs: number): Promise<string>
  /** The last lines of stdout and stderr. */
  tail (): string
  /** Resolves with the exit code (or signal name) when the child ends. */
  readonly exited: Promise<string>
}

/** Every child the bench started; `stopAll()` ends them, `killAllSync()` is the last resort. */
export class Children {
  private readonly all: Child[] = []

  /**
   * Spawn `cmd args`, under `taskset -c cpu` when `cpu` (a CPU or a list such as "0,1") is not null;
   * `env`: variables set for this child on top of the bench's own environment.
   */
  spawn (name: string, cmd: string, args: string[], cpu: number | string | null, cwd?: string, env: Readonly<Record<string, string>> = {}): Child {
    const argv = cpu === null ? [cmd, ...args] : ['taskset', '-c', String(cpu), cmd, ...args]
    // taskset execs the command, so the child's pid is the command's pid.
    const proc = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], cwd, env: { ...process.env, ...env } })
    const lines: string[] = []
    // A spawn failure (ENOENT) must not become an uncaught 'error' event.
    proc.on('error', (err) => keep(lines, `spawn error: ${err.message}`))
    if (proc.pid === undefined) throw new Error(`could not start ${name} (${argv[0]})`)
    const waiters: Array<(line: string) => void> = []
    let buf = ''
    proc.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        keep(lines, line)
        for (const w of waiters) w(line)
      }
    })
    proc.stderr?.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) if (l !== '') keep(lines, l) })
    const exited = new Promise<string>((resolve) => proc.once('exit', (code, sig) => resolve(String(code ?? sig))))
    const tail = (): string => lines.join('\n')
    const child: Child = {
      name,
      proc,
      pid: proc.pid,
      tail,
      exited,
      firstLine: async (test, timeoutMs) => await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: no ready line within ${timeoutMs} ms\n${tail()}`)), timeoutMs)
        waiters.push((line) => { if (test(line)) { clearTimeout(timer); resolve(line) } })
        void exited.then((code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}) before it was ready\n${tail()}`)) })
      })
    }
    this.all.push(child)
    return child
  }

  /** SIGTERM every live child, wait up to `graceMs`, then SIGKILL. Idempotent. */
  async stopAll (graceMs = 5000): Promise<void> {
    await Promise.all(this.all.map(async (child) => await stopChild(child, graceMs)))
  }

  /** SIGKILL whatever still runs, descendants first: for `process.on('exit')`, where nothing can be awaited. */
  killAllSync (): void {
    for (const { proc } of this.all) {
      if (proc.exitCode !== null || proc.signalCode !== null || proc.pid === undefined) continue
      for (const pid of descendants(proc.pid)) killQuietly(pid)
      proc.kill('SIGKILL')
    }
  }
}

/** SIGTERM one child (and, once it ended, its leftover descendants), SIGKILL after `graceMs`. Idempotent. */
export async function stopChild ({ proc }: Child, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  // nginx's worker is a grandchild of the bench: note it now, end it too if it outlives its master.
  const below = proc.pid === undefined ? [] : descendants(proc.pid)
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  proc.stdin?.end()
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs)
  await gone
  clearTimeout(timer)
  for (const pid of below) killQuietly(pid)
}

/** SIGKILL `pid` if it still exists. */
function killQuietly (pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {}
}

function keep (lines: string[], line: string): void {
  lines.push(line)
  if (lines.length > 30) lines.shift()
}

/** Poll GET `url` until it answers 200, or throw after `timeoutMs`. */
export async function waitFor200 (url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      if (res.status === 200) return
      last = `status ${res.status}`
    } catch (err) {
      last = (err as Error).message
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last})`)
}
