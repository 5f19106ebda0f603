import t from 'tap'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'

/**
 * `npm test` runs every test file; `npm run test:unit` runs the "unit" tier of package.json's
 * testTiers. Every test file must be in exactly one tier, so a new file cannot go unclassified
 * and no file is listed twice. (A tier entry is a file or a folder of test files under test/.)
 */
const root = path.join(__dirname, '..', '..')
const tiers = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).testTiers as Record<string, string[]>

function testFiles (dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const p = `${dir}/${e.name}`
    if (e.isDirectory()) return testFiles(p)
    return /\.(test|serial)\.ts$/.test(e.name) ? [p] : []
  })
}

function expand (entry: string): string[] {
  return statSync(path.join(root, entry)).isDirectory()
    ? readdirSync(path.join(root, entry)).filter((f) => /\.test\.ts$/.test(f)).map((f) => `${entry.replace(/\/$/, '')}/${f}`)
    : [entry]
}

t.test('every test file is in exactly one tier', async (t) => {
  t.same(Object.keys(tiers).sort(), ['system', 'unit'], 'two tiers: unit and system')
  const where = new Map<string, string[]>()
  for (const [tier, entries] of Object.entries(tiers)) {
    for (const entry of entries) {
      for (const file of expand(entry)) where.set(file, [...(where.get(file) ?? []), tier])
    }
  }
  const unlisted = testFiles('test').filter((f) => !where.has(f))
  t.same(unlisted, [], 'no test file outside the tiers (add it to package.json testTiers)')
  const twice = [...where].filter(([, ts]) => ts.length > 1).map(([f, ts]) => `${f}: ${ts.join(', ')}`)
  t.same(twice, [], 'no test file in two tiers (or twice in one)')
  const gone = [...where.keys()].filter((f) => !testFiles('test').includes(f))
  t.same(gone, [], 'every listed file exists')
})
