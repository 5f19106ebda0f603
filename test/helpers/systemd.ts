/**
 * A real systemd, booted as PID 1 in a container of scripts/build-systemd-image.sh's image, for
 * running docs/deployment.md's systemd recipe as written (issue #23). The container shares the
 * host's network namespace (as the docker recipe does) and the host's Docker socket, so the
 * symphony that systemd starts inside manages real replicas on the main engine, and the test
 * reaches its ports on loopback.
 *
 * What systemd needs here: write access to the cgroup tree (it makes its slices under the
 * container's own cgroup: the host's namespace, mounted read-write) and CAP_SYS_ADMIN for its
 * mounts. Not `--privileged`: this machine's sandbox withholds CAP_SYS_RESOURCE from the engine,
 * and runc then fails "unable to apply caps" for a container that asks for every capability.
 */
import { execFileSync, spawn } from 'node:child_process'
import path from 'node:path'
import { repoRoot, waitFor } from './docker'
import { docker } from './swarm'

/** The image scripts/build-systemd-image.sh builds. */
export const SYSTEMD_IMAGE = process.env.SYMPHONY_SYSTEMD_IMAGE ?? 'symphony-systemd'

/** Build the image (and symphony's, its base) when missing or stale. */
export function ensureSystemdImage (): void {
  execFileSync(path.join(repoRoot, 'scripts', 'build-systemd-image.sh'), [], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] })
}

export interface SystemdHost {
  name: string
  /** `sh -c script` inside, with `input` on stdin; stdout trimmed; rejects on a non-zero exit. */
  sh: (script: string, input?: string) => Promise<string>
  /** `systemctl show unit -p …` as a record. */
  show: (unit: string, props: string[]) => Promise<Record<string, string>>
  /** A unit's status and the end of its journal, for a failure's message. */
  describe: (unit: string) => Promise<string>
  /** Wait until systemd has booted (running or degraded), or fail with its state and log. */
  booted: (ms: number) => Promise<void>
}

interface Teardown { teardown: (fn: () => unknown) => void }

function dockerExec (name: string, script: string, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['exec', '-i', name, 'sh', '-c', script], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('error', reject)
    child.on('close', (code) => code === 0 ? resolve(out.trim()) : reject(new Error(`in ${name}: \`${script}\` exited ${code ?? 'by a signal'}: ${err.trim()}`)))
    child.stdin.end(input ?? '')
  })
}

/** Start the systemd container (removed in teardown, with everything it ran). */
export async function startSystemd (t: Teardown, name: string): Promise<SystemdHost> {
  t.teardown(async () => { await docker(['rm', '-f', name]).catch(() => {}) })
  await docker(['run', '-d', '--name', name, '--label', 'io.symphony.managed=true', '--label', 'io.symphony.test=true',
    '--cap-add', 'SYS_ADMIN', '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
    '--cgroupns', 'host', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--tmpfs', '/run', '--tmpfs', '/run/lock',
    '--network', 'host', '-v', '/var/run/docker.sock:/run/docker.sock', SYSTEMD_IMAGE])
  const sh = async (script: string, input?: string): Promise<string> => await dockerExec(name, script, input)
  const show = async (unit: string, props: string[]): Promise<Record<string, string>> =>
    Object.fromEntries((await sh(`systemctl show ${unit} ${props.map((p) => `-p ${p}`).join(' ')}`)).split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  const booted = async (ms: number): Promise<void> => {
    let state = ''
    try {
      await waitFor('systemd booted', async () => {
        state = await sh('systemctl is-system-running || true').catch((err: unknown) => String(err))
        return state === 'running' || state === 'degraded' ? true : undefined
      }, ms, 250)
    } catch {
      const log = await docker(['logs', '--tail', '30', name]).catch((err: unknown) => String(err))
      throw new Error(`systemd did not boot in ${name} within ${ms} ms (is-system-running: ${state}); its log:\n${log}`)
    }
  }
  const describe = async (unit: string): Promise<string> =>
    await sh(`systemctl status --no-pager --lines 0 ${unit}; journalctl -u ${unit} -o cat --no-pager | tail -n 15`).catch((err: unknown) => String(err))
  return { name, sh, show, booted, describe }
}
