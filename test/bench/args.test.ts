import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { DEFAULT_COUNTS, parseBenchArgs, parseCounts, parseEnv } from '../../bench/args'

t.test('--counts: whole numbers 1..256, deduplicated and sorted; the default is 1,8,64,256', async (t) => {
  t.same(parseCounts(undefined), DEFAULT_COUNTS)
  t.same(parseCounts('64, 1,8,64'), [1, 8, 64])
  t.same(parseCounts('256'), [256])
  for (const bad of ['0', '257', '1,,8', '', '1.5', 'x']) t.throws(() => parseCounts(bad), /--counts/, `rejects "${bad}"`)
})

t.test('backends, idle10k and control are scenarios of their own, outside "all"', async (t) => {
  const only = parseBenchArgs(['--scenario', 'backends'])
  t.same(only?.scenarios, [], 'no load scenario unless one is named')
  t.same(only?.modes, ['backends'])
  const mixed = parseBenchArgs(['--scenario', 'control', '--scenario', 'small', '--scenario', 'idle10k'])
  t.same(mixed?.scenarios, ['small'])
  t.same(mixed?.modes, ['idle10k', 'control'])
  const all = parseBenchArgs(['--scenario', 'all'])
  t.same(all?.modes, [])
  t.ok((all?.scenarios.length ?? 0) > 1)
  const def = parseBenchArgs([])
  t.same(def?.scenarios, ['small'])
  t.same(def?.modes, [])
  t.equal(def?.idleConnections, 10000)
  t.throws(() => parseBenchArgs(['--scenario', 'nope']), /backends, idle10k, control/)
  t.throws(() => parseBenchArgs(['--idle-connections', '40000']), /--idle-connections/)
})

t.test('--baseline: a built symphony tree for a paired A/B; anything else is refused by name', async (t) => {
  t.equal(parseBenchArgs([])?.baseline, null)
  const root = path.resolve(__dirname, '..', '..', '..')
  t.equal(parseBenchArgs(['--baseline', root])?.baseline, root, 'this very tree qualifies (it has bin/symphony.js)')
  t.throws(() => parseBenchArgs(['--baseline', os.tmpdir()]), /--baseline .*bin\/symphony\.js/)
})

t.test('--baseline-root: the baseline is a tree inside another root filesystem, run with its Node', async (t) => {
  t.equal(parseBenchArgs([])?.baselineRoot, null)
  const rootfs = mkdtempSync(path.join(os.tmpdir(), 'bench-rootfs-'))
  t.teardown(() => rmSync(rootfs, { recursive: true, force: true }))
  t.throws(() => parseBenchArgs(['--baseline-root', rootfs]), /--baseline-root: needs --baseline/)
  t.throws(() => parseBenchArgs(['--baseline-root', rootfs, '--baseline', '/repo']), /--baseline-root .*usr\/local\/bin\/node/)
  mkdirSync(path.join(rootfs, 'usr', 'local', 'bin'), { recursive: true })
  writeFileSync(path.join(rootfs, 'usr', 'local', 'bin', 'node'), '')
  t.throws(() => parseBenchArgs(['--baseline-root', rootfs, '--baseline', '/repo']), /--baseline \/repo: .*bin\/symphony\.js/, 'the tree is looked for inside the root')
  mkdirSync(path.join(rootfs, 'repo', 'bin'), { recursive: true })
  writeFileSync(path.join(rootfs, 'repo', 'bin', 'symphony.js'), '')
  t.match(parseBenchArgs(['--baseline-root', rootfs, '--baseline', 'repo']), { baseline: '/repo', baselineRoot: rootfs })
})

t.test('--access-log: the symphony target writes an access log (an A/B against --baseline .)', async (t) => {
  t.equal(parseBenchArgs([])?.accessLog, false)
  t.equal(parseBenchArgs(['--access-log'])?.accessLog, true)
})

t.test('--symphony-env and --baseline-env: KEY=VALUE for one side alone; anything else is refused by name', async (t) => {
  const o = parseBenchArgs(['--symphony-env', 'GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072', '--symphony-env', 'A_B=', '--baseline-env', 'X=1'])
  t.same(o?.symphonyEnv, { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=131072', A_B: '' }, 'the value keeps its own "=" and may be empty')
  t.same(o?.baselineEnv, { X: '1' })
  t.same(parseBenchArgs([])?.symphonyEnv, {}, 'none by default')
  for (const bad of ['=1', '1A=2', 'NOEQUALS', 'A-B=1']) {
    t.throws(() => parseBenchArgs(['--symphony-env', bad]), /--symphony-env .*KEY=VALUE/, `--symphony-env rejects "${bad}"`)
    t.throws(() => parseBenchArgs(['--baseline-env', bad]), /--baseline-env .*KEY=VALUE/, `--baseline-env rejects "${bad}"`)
  }
  t.same(parseEnv(['K=v=w']), { K: 'v=w' })
})
