import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'

const BIN = path.join(__dirname, '..', '..', '..', 'bin', 'symphony.js')

export interface RunningCli {
  readonly child: ChildProcess
  readonly port: number
  readonly adminPort: number
  /** Every line written so far on stdout (JSON logs). */
  readonly lines: string[]
  readonly stderr: () => string
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>
}

/**
 * Start the real `symphony` CLI as a child process and wait for its "symphony listening" line.
 * With `wrap`, the command line is prefixed by it (it must exec, so the child is symphony).
 * Killed (SIGKILL) at teardown if still running. `--port 0 --admin-port 0` come first unless
 * `portFlags` is false (then `args` name the ports).
 */
export async function startCli (t: { teardown: (fn: () => unknown) => void }, args: string[], env: NodeJS.ProcessEnv = {}, wrap: readonly string[] = [], portFlags = true): Promise<RunningCli> {
  // `wrap` runs it under a command that execs it in turn (nsenter into a network namespace).
  const argv = [...wrap, process.execPath, BIN, ...(portFlags ? ['--port', '0', '--admin-port', '0'] : []), ...args]
  const child = spawn(argv[0] as string, argv.slice(1), {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const lines: string[] = []
  let err = ''
  let buf = ''
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  // SIGTERM first, so that symphony stops what it started (process-runtime replicas) and
  // closes its workers; SIGKILL only if it does not exit within 10 s.
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  })
  child.stderr?.on('data', (d) => { err += d })
  const listening = await new Promise<{ port: number, adminPort: number }>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      buf += d
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        lines.push(line)
        try {
          const o = JSON.parse(line)
          if (o.msg === 'symphony listening') resolve({ port: o.port, adminPort: o.adminPort })
        } catch {}
      }
    })
    void exited.then((code) => reject(new Error(`symphony exited (${code}) before listening: ${err}`)))
    setTimeout(() => reject(new Error(`symphony did not log "symphony listening" within 30 s (is --log-level above info?): ${err}`)), 30_000).unref()
  })
  return { child, ...listening, lines, stderr: () => err, exited }
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssOf (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  return m === null ? 0 : Number(m[1]) * 1024
}

/** What a CLI run that ends gave: exit code (null after a signal), output, how long it took. */
export interface CliRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/**
 * Run the real `symphony` CLI with exactly `args` (no port flags added) to its end, with a
 * clean environment plus `env`; SIGKILLed after `killAfterMs`, so a hang fails the test instead
 * of stalling the run.
 */
export function runCliToEnd (args: readonly string[], env: NodeJS.ProcessEnv = {}, killAfterMs = 60_000): Promise<CliRun> {
  const started = Date.now()
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
  return new Promise((resolve) => child.once('close', (code) => {
    clearTimeout(timer)
    resolve({ code, stdout, stderr, ms: Date.now() - started })
  }))
}
