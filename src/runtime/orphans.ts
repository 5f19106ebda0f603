import { readdirSync, readFileSync } from 'node:fs'

/**
 * Replica processes left behind by an earlier symphony (killed with SIGKILL, or crashed): the
 * process runtime marks each child with REPLICA_ENV=<service>:<port>, and a new instance finds
 * them again through /proc, as the Docker runtime finds its containers by label.
 */
export const REPLICA_ENV = 'SYMPHONY_REPLICA'

export interface FoundProcess { readonly pid: number, readonly port: number }

/** The mark a child of `service` on `port` carries. */
export function replicaMark (service: string, port: number): string { return `${service}:${port}` }

/**
 * Parse one /proc/<pid>/environ (NUL-separated) and /proc/<pid>/stat: the port of a replica of
 * `service`, when this process is the group leader that symphony spawned (its children inherit
 * the mark but are not replicas themselves). Pure, for tests.
 */
export function replicaPort (environ: string, stat: string, pid: number, service: string): number | null {
  // stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  if (Number(fields[2]) !== pid) return null
  const prefix = `${REPLICA_ENV}=${service}:`
  for (const entry of environ.split('\0')) {
    if (!entry.startsWith(prefix)) continue
    const port = Number(entry.slice(prefix.length))
    return Number.isInteger(port) && port > 0 && port < 65536 ? port : null
  }
  return null
}

/** Every live replica process of `service` on this machine (Linux /proc; elsewhere none). */
export function findReplicaProcesses (service: string, except: ReadonlySet<number> = new Set()): FoundProcess[] {
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d))
  } catch {
    return []
  }
  const found: FoundProcess[] = []
  for (const d of pids) {
    const pid = Number(d)
    if (pid === process.pid || except.has(pid)) continue
    try {
      const port = replicaPort(readFileSync(`/proc/${d}/environ`, 'latin1'), readFileSync(`/proc/${d}/stat`, 'latin1'), pid, service)
      if (port !== null) found.push({ pid, port })
    } catch {
      // Gone meanwhile, or another user's process: not ours either way.
    }
  }
  return found.sort((a, b) => a.port - b.port)
}

/** Whether a process exists and is not a zombie waiting to be reaped. */
export function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat[stat.lastIndexOf(')') + 2] !== 'Z'
  } catch {
    return true // no /proc here: signal 0 is all we know
  }
}
