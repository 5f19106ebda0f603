/**
 * examples/symphony.yaml is the configuration docs/options.md and docs/deployment.md point users
 * at: it must load as it is, and mean what its comments say.
 */
import t from 'tap'
import path from 'node:path'
import { existsSync } from 'node:fs'
import { loadConfig } from '../../src/config/load'

function repoRoot (): string {
  let dir = __dirname
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir)
  return dir
}

t.test('examples/symphony.yaml loads into a valid configuration', async t => {
  const file = path.join(repoRoot(), 'examples', 'symphony.yaml')
  const result = loadConfig(['--config', file], {}, { cpus: 2, nofile: 65_536 })
  if (!('config' in result)) throw new Error('expected a config')
  const c = result.config
  t.equal(c.image, 'my-api:latest')
  t.equal(c.service, 'my-api', 'the service name comes from the image')
  t.equal(c.port, 8080)
  t.equal(c.basePort, 8000)
  t.same(c.env, ['NODE_ENV=production', 'LOG_LEVEL=info'])
  t.equal(c.windowMs, 120_000)
  t.equal(c.baseScaleCount, 20)
  t.equal(c.maxContainers, 10)
  t.equal(c.faultIntervalMs, 1000)
  t.equal(c.maxBodySize, 64 * 1024 * 1024)
  t.equal(c.adminHost, '127.0.0.1')
})

t.test('a flag overrides the example file', async t => {
  const file = path.join(repoRoot(), 'examples', 'symphony.yaml')
  const result = loadConfig(['--config', file, '--window', '60'], {}, { cpus: 2, nofile: 65_536 })
  if (!('config' in result)) throw new Error('expected a config')
  t.equal(result.config.windowMs, 60_000)
})
