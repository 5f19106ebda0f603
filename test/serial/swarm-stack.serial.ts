/**
 * The Swarm stack example end to end (issue #23 points 4 and 6), on a real single-node swarm:
 * deployed as examples/swarm/stack.yml's comment says, with symphony's image by its ID and
 * `--resolve-image never`, then torn down with the documented steps. Nothing may be left: no
 * replica service, no container of the service, no network, nothing of the stack.
 */
import t from 'tap'
import { execFile } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { promisify } from 'node:util'
import { request } from 'undici'
import { TEST_IMAGE, ensureEngineAndImage, repoRoot, waitFor } from '../helpers/docker'
import { SYMPHONY_IMAGE, docker, ensureSwarm, ensureSymphonyImage, removeSwarmServices } from '../helpers/swarm'

const run = promisify(execFile)
const STACK = `life${process.pid}`
const NETWORK = 'symphony-api'
const SERVICE = 'api'

ensureEngineAndImage()
ensureSymphonyImage()

function freePort (): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

/** What is left of the deployment: replica services, containers of the service, the network, the stack's services and networks. */
async function leftovers (): Promise<string[]> {
  const left: string[] = []
  const add = (what: string, out: string): void => { for (const l of out.split('\n').filter((x) => x !== '')) left.push(`${what} ${l}`) }
  add('replica service', await docker(['service', 'ls', '-q', '--filter', `label=io.symphony.service=${SERVICE}`]))
  add('container', await docker(['ps', '-aq', '--filter', `label=io.symphony.service=${SERVICE}`]))
  add('stack service', await docker(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${STACK}`]))
  add('stack container', await docker(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${STACK}`]))
  add('network', await docker(['network', 'ls', '-q', '--filter', `name=^${NETWORK}$`]))
  return left
}

t.test('the stack example deploys registry-free and tears down with the documented steps, leaving nothing', async (t) => {
  await ensureSwarm(t)
  t.same(await leftovers(), [], `nothing of service ${SERVICE} or network ${NETWORK} exists before (another run would share their fixed names)`)
  t.teardown(async () => {
    // Only if the test failed half-way: the same steps, forced.
    await docker(['stack', 'rm', STACK]).catch(() => {})
    await removeSwarmServices(SERVICE).catch(() => {})
    await waitFor('network gone', async () => {
      try { await docker(['network', 'rm', NETWORK]); return true } catch (err) { return /No such network|not found/i.test(String(err)) ? true : undefined }
    }, 60_000, 1000).catch(() => {})
  })
  const imageId = await docker(['image', 'inspect', '-f', '{{.Id}}', SYMPHONY_IMAGE])
  const port = await freePort()
  const env = { ...process.env, SYMPHONY_IMAGE: imageId, SYMPHONY_ADMIN_TOKEN: 'stack-test-token-0123456789', SYMPHONY_PORT: String(port) }
  await run('docker', ['stack', 'deploy', '--resolve-image', 'never', '-c', path.join(repoRoot, 'examples', 'swarm', 'stack.yml'), STACK], { env })
  await waitFor('the gateway answers 200', async () => {
    try {
      const res = await request(`http://127.0.0.1:${port}/api/v1/hello`, { headersTimeout: 2000, bodyTimeout: 2000 })
      await res.body.dump()
      return res.statusCode === 200 ? true : undefined
    } catch { return undefined }
  }, 90_000, 500)
  const replicas = (await docker(['service', 'ls', '--filter', `label=io.symphony.service=${SERVICE}`, '--format', '{{.Name}}'])).split('\n').filter((l) => l !== '').sort()
  t.same(replicas, ['api-0', 'api-1'], 'the stack runs, with its two replica services')

  // The documented removal: symphony first, then its replica services, then the stack.
  await docker(['service', 'rm', `${STACK}_symphony`])
  const removeArgs = ['run', '--rm', '-v', '/var/run/docker.sock:/var/run/docker.sock', '--network', 'none', '--label', 'io.symphony.test=true', imageId,
    'remove', '--runtime=swarm', `--network=${NETWORK}`, `--image=${TEST_IMAGE}`, `--service=${SERVICE}`]
  let refusals = 0
  const removed = await waitFor('symphony remove succeeds', async () => {
    try {
      return await docker(removeArgs)
    } catch (err) {
      const e = err as { code?: number, stderr?: string }
      if (e.code !== 22) throw err
      refusals++ // symphony is still draining: refused, nothing removed
      return undefined
    }
  }, 90_000, 1000)
  t.comment(`refused ${refusals} time(s) while symphony drained`)
  t.same(removed.split('\n'), ['removed Swarm service api-0', 'removed Swarm service api-1', `service ${SERVICE}: 2 Swarm services removed, their task containers gone from this node`], 'one line per replica service')
  await docker(['stack', 'rm', STACK])
  const left = await waitFor('nothing left', async () => {
    const l = await leftovers()
    return l.length === 0 ? l : undefined
  }, 60_000, 500).catch(async () => await leftovers())
  t.same(left, [], 'no replica service, container, stack service or network left')
})
