/**
 * bin/symphony.js re-executes itself once with glibc's mmap threshold where Node has
 * process.execve (src/startup/malloc-tunables.ts). The real runs: a preload (NODE_OPTIONS,
 * which survives the exec) writes one line per process image it starts in: its pid and the
 * GLIBC_TUNABLES it sees.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MMAP_THRESHOLD_TUNABLE, tunablesFor } from '../../src/startup/malloc-tunables'
import { nodeBinary } from '../helpers/node-binary'

const BIN = join(__dirname, '..', '..', '..', 'bin', 'symphony.js')

t.test('the variable to re-execute with', async (t) => {
  const rows: Array<[string | undefined, string | null]> = [
    [undefined, MMAP_THRESHOLD_TUNABLE],
    ['', MMAP_THRESHOLD_TUNABLE],
    ['glibc.malloc.arena_max=2', `glibc.malloc.arena_max=2:${MMAP_THRESHOLD_TUNABLE}`],
    ['glibc.malloc.mmap_threshold=65536', null],
    ['glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=65536', null],
    [MMAP_THRESHOLD_TUNABLE, null]
  ]
  for (const [current, want] of rows) t.equal(tunablesFor(current), want, `GLIBC_TUNABLES=${String(current)}`)
})

/** Runs `node bin/symphony.js --help` with the preload; the lines it wrote: [pid, tunables]. */
function imagesOf (node: string, env: Record<string, string>): { status: number | null, images: Array<[string, string]> } {
  const dir = mkdtempSync(join(tmpdir(), 'sym-tunables-'))
  try {
    const out = join(dir, 'images')
    const preload = join(dir, 'preload.js')
    // Main thread only: Node 20 also runs preloads in its module-hooks thread (which a test runner's --import starts).
    writeFileSync(preload, `if (require('worker_threads').isMainThread) { require('fs').appendFileSync(${JSON.stringify(out)}, process.pid + ' ' + (process.env.GLIBC_TUNABLES ?? '-') + '\\n') }\n`)
    const r = spawnSync(node, [BIN, '--help'], { env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: `--require ${preload}`, ...env }, encoding: 'utf8', timeout: 60_000 })
    const images = readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string])
    return { status: r.status, images }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const node24 = nodeBinary(24)
// A skip is not a pass: CI must have the binary (it is fetched once, into a cache).
const skip = 'skip' in node24 && process.env.CI === undefined ? node24.skip : false

t.test('Node 24: one re-execution, same pid, with the threshold; none when it is set already', { skip }, async (t) => {
  if ('skip' in node24) { t.fail(`CI has no Node 24 binary: ${node24.skip}`); return }
  const plain = imagesOf(node24.path, {})
  t.equal(plain.status, 0, '--help exits 0')
  t.equal(plain.images.length, 2, 'two process images: the start and the re-execution')
  t.equal(plain.images[0][0], plain.images[1][0], 'the same pid')
  t.same(plain.images.map((i) => i[1]), ['-', MMAP_THRESHOLD_TUNABLE])
  const mine = imagesOf(node24.path, { GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=65536' })
  t.same(mine.images.map((i) => i[1]), ['glibc.malloc.mmap_threshold=65536'], 'the user\'s own threshold: no re-execution')
  const other = imagesOf(node24.path, { GLIBC_TUNABLES: 'glibc.malloc.arena_max=4' })
  t.same(other.images.map((i) => i[1]), ['glibc.malloc.arena_max=4', `glibc.malloc.arena_max=4:${MMAP_THRESHOLD_TUNABLE}`], 'other tunables kept')
})

t.test('this Node: re-executes exactly when it has process.execve', async (t) => {
  const r = imagesOf(process.execPath, {})
  t.equal(r.status, 0)
  const hasExecve = typeof (process as unknown as { execve?: unknown }).execve === 'function'
  t.equal(r.images.length, hasExecve ? 2 : 1, `${process.version}: ${hasExecve ? 'with' : 'without'} process.execve: ${JSON.stringify(r.images)}`)
})
