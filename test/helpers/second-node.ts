/**
 * A second Swarm node on this machine, for the two-node tests: a second dockerd in its own
 * network namespace (own data root, exec root and socket), a veth pair with addresses the test
 * assigns (10.213.0.1 host side, 10.213.0.2 inside), and tear-down that leaves nothing behind,
 * whatever state the node was left in. Why each flag is there: `nsenter` rather than
 * `ip netns exec` (which remounts /sys, and dockerd then fails with "Devices cgroup isn't
 * mounted"), `unshare --uts` (or both nodes report the same hostname), a separate exec root
 * (keeps containerd, shims and runc state apart).
 */
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, openSync, closeSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { docker, swarmState } from './swarm'
import { waitFor } from './docker'

export const HOST_ADDR = '10.213.0.1'
export const NODE2_ADDR = '10.213.0.2'

/** Quiet synchronous command; failures ignored (tear-down is best effort, step by step). */
function sh (cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()
  } catch {
    return ''
  }
}

export class SecondNode {
  /** Short, per process: interface names are at most 15 characters. */
  readonly tag = `s${process.pid % 100000}`
  readonly netns = `sym-n2-${this.tag}`
  readonly vethHost = `${this.tag}h`
  readonly vethNode = `${this.tag}n`
  readonly dataRoot = `/var/lib/docker-n2-${this.tag}`
  readonly execRoot = `/run/docker-n2-${this.tag}`
  readonly pidFile = `/run/docker-n2-${this.tag}.pid`
  readonly socket = `unix:///run/docker-n2-${this.tag}.sock`
  readonly hostname = `n2-${this.tag}`
  readonly log = `/tmp/docker-n2-${this.tag}.log`
  #pid: number | null = null

  /** Namespace, veth pair, dockerd; resolves when the engine answers. */
  async up (): Promise<void> {
    if (existsSync(`/run/netns/${this.netns}`)) throw new Error(`namespace ${this.netns} exists already`)
    execFileSync('ip', ['netns', 'add', this.netns])
    execFileSync('ip', ['link', 'add', this.vethHost, 'type', 'veth', 'peer', 'name', this.vethNode])
    execFileSync('ip', ['link', 'set', this.vethNode, 'netns', this.netns])
    execFileSync('ip', ['addr', 'add', `${HOST_ADDR}/24`, 'dev', this.vethHost])
    execFileSync('ip', ['link', 'set', this.vethHost, 'up'])
    const inNs = (args: string[]): void => { execFileSync('nsenter', [`--net=/run/netns/${this.netns}`, ...args]) }
    inNs(['ip', 'addr', 'add', `${NODE2_ADDR}/24`, 'dev', this.vethNode])
    inNs(['ip', 'link', 'set', this.vethNode, 'up'])
    inNs(['ip', 'link', 'set', 'lo', 'up'])
    const out = openSync(this.log, 'w')
    const child = spawn('nsenter', [`--net=/run/netns/${this.netns}`, 'unshare', '--uts', 'sh', '-c',
      `hostname ${this.hostname} && exec dockerd --data-root ${this.dataRoot} --exec-root ${this.execRoot} --pidfile ${this.pidFile} -H ${this.socket} --bip 172.31.0.1/24`],
    { detached: true, stdio: ['ignore', out, out] })
    closeSync(out)
    child.unref()
    this.#pid = child.pid ?? null
    await waitFor('the second dockerd answers', async () => (await docker(['info', '-f', '{{.ID}}'], this.socket)) !== '' ? true : undefined, 60_000, 250)
  }

  /** Join the swarm whose manager advertises HOST_ADDR, as a worker. */
  async join (): Promise<void> {
    const token = await docker(['swarm', 'join-token', '-q', 'worker'])
    await docker(['swarm', 'join', '--token', token, '--advertise-addr', NODE2_ADDR, '--listen-addr', `${NODE2_ADDR}:2377`, `${HOST_ADDR}:2377`], this.socket)
  }

  /** `docker save | docker -H node2 load`: no registry. */
  loadImage (image: string): void {
    execFileSync('sh', ['-c', `docker save ${image} | docker -H ${this.socket} load`], { stdio: ['ignore', 'ignore', 'inherit'] })
  }

  /** Stop the node's engine (SIGTERM, as a machine shutting down): its tasks go with it. */
  async stopEngine (): Promise<void> {
    if (this.#pid === null) return
    try { process.kill(this.#pid, 'SIGTERM') } catch { return }
    const pid = this.#pid
    await waitFor('the second dockerd exits', async () => {
      try { process.kill(pid, 0); return undefined } catch { return true }
    }, 60_000, 200).catch(() => { try { process.kill(pid, 'SIGKILL') } catch {} })
    this.#pid = null
  }

  /** Everything up() made, in reverse; each step tolerates what is already gone. */
  async down (): Promise<void> {
    if (this.#pid !== null) {
      if ((await swarmState(this.socket).catch(() => '')) === 'active') await docker(['swarm', 'leave', '--force'], this.socket).catch(() => {})
      await this.stopEngine()
    }
    // Containers outlive a killed dockerd: kill them through their cgroups (ids from the data root).
    const ids = existsSync(`${this.dataRoot}/containers`) ? readdirSync(`${this.dataRoot}/containers`) : []
    for (const id of ids) {
      for (const ctl of ['pids', 'memory', 'cpu', 'freezer', 'systemd']) {
        const procs = `/sys/fs/cgroup/${ctl}/docker/${id}/cgroup.procs`
        if (!existsSync(procs)) continue
        for (const p of readFileSync(procs, 'utf8').split('\n').filter((x) => x !== '')) { try { process.kill(Number(p), 'SIGKILL') } catch {} }
      }
    }
    // Its containerd and shims, by the exec root in their command lines.
    for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(this.execRoot)) process.kill(Number(d), 'SIGKILL')
      } catch {}
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.includes(`docker-n2-${this.tag}`))
      .sort((a, b) => b.length - a.length)
    for (const m of mounts) sh('umount', ['-l', m])
    for (const p of [this.dataRoot, this.execRoot]) { try { rmSync(p, { recursive: true, force: true }) } catch {} }
    for (const f of [this.pidFile, this.socket.slice('unix://'.length)]) { try { rmSync(f, { force: true }) } catch {} }
    sh('ip', ['netns', 'del', this.netns])
    sh('ip', ['link', 'del', this.vethHost])
  }
}
