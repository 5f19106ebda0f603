import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import t from 'tap'
import ts from 'typescript'

/**
 * The house rule (issue #21): no function in src/ or workers/ is longer than about 100 lines,
 * so each unit fits a reader's mind. A function that must be longer because it is a flat table
 * is named here with the reason, and docs/development.md says so.
 */
const LIMIT = 100
const FLAT_TABLES: Record<string, string> = {}

const root = path.resolve(__dirname, '..', '..')

function sources (dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) sources(p, out)
    else if (p.endsWith('.ts')) out.push(p)
  }
  return out
}

/** Every function-like node with a body: [lines, file:line, name]. */
function functions (file: string): Array<[number, string, string]> {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true)
  const found: Array<[number, string, string]> = []
  const visit = (n: ts.Node): void => {
    if (ts.isFunctionLike(n) && 'body' in n && n.body !== undefined) {
      const first = sf.getLineAndCharacterOfPosition(n.getStart()).line
      const last = sf.getLineAndCharacterOfPosition(n.end).line
      const name = 'name' in n && n.name !== undefined ? (n.name as ts.Node).getText(sf) : '<anonymous>'
      found.push([last - first + 1, `${path.relative(root, file)}:${first + 1}`, name])
    }
    ts.forEachChild(n, visit)
  }
  visit(sf)
  return found
}

t.test(`no function in src/ or workers/ is longer than ${LIMIT} lines`, async (t) => {
  const all = [...sources(path.join(root, 'src')), ...sources(path.join(root, 'workers'))].flatMap(functions)
  t.ok(all.length > 100, `the walk found the functions (${all.length})`)
  const long = all.filter(([lines, where, name]) => lines > LIMIT && FLAT_TABLES[`${where.split(':')[0]}#${name}`] === undefined)
  t.same(long.map(([lines, where, name]) => `${where} ${name}: ${lines} lines`), [], 'none over the limit')
})

t.test('the check can fail: a long function in a scratch file is found', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fnlen-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'long.ts')
  fs.writeFileSync(file, `export function long (): number {\n${'  let x = 1\n'.repeat(LIMIT)}  return 0\n}\n`)
  const [[lines, , name]] = functions(file)
  t.equal(name, 'long')
  t.ok(lines > LIMIT, `measured ${lines} lines`)
})
