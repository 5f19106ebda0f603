/**
 * glibc's mmap threshold, fixed before anything allocates: symphony re-executes itself, once, at
 * the very start (bin/symphony.js), with `GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072`
 * added, where Node.js can (`process.execve`: Node 22.15+, 23.11+ and 24; the same pid, stdio
 * and arguments). glibc reads the variable only when a process starts, and with its dynamic
 * threshold freed blocks of 128 KiB and more stay in the threads' arenas: a soak kept 5-8 MiB
 * more after the traffic (docs/performance.md, "glibc's mmap threshold"). Symphony's image sets
 * the variable itself, so it runs no re-execution; Node 20 has no execve and runs as started.
 * A variable that already names the threshold is the user's and is kept as it is.
 */

export const MMAP_THRESHOLD_TUNABLE = 'glibc.malloc.mmap_threshold=131072'

/** The GLIBC_TUNABLES value to re-execute with, or null when `current` already sets the threshold. */
export function tunablesFor (current: string | undefined): string | null {
  if (current !== undefined && /(^|:)glibc\.malloc\.mmap_threshold=/.test(current)) return null
  return current === undefined || current === '' ? MMAP_THRESHOLD_TUNABLE : `${current}:${MMAP_THRESHOLD_TUNABLE}`
}

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never

/**
 * Re-executes this process with the tunable when it is missing, on Linux, where `process.execve`
 * exists; returns otherwise (also when execve fails: symphony then runs with glibc's default).
 */
export function reexecWithTunables (): void {
  const execve = (process as unknown as { execve?: Execve }).execve
  if (process.platform !== 'linux' || typeof execve !== 'function') return
  const value = tunablesFor(process.env.GLIBC_TUNABLES)
  if (value === null) return
  try {
    execve.call(process, process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, GLIBC_TUNABLES: value })
  } catch {
    // e.g. under Node's permission model: the default threshold costs memory, not correctness.
  }
}
