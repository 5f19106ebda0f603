import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import * as errors from '../src/errors'
import { allErrorCodes } from '../src/errors'
import { renderOptionsMarkdown } from '../src/config/help'

const root = path.join(__dirname, '..', '..')
const optionsDoc = readFileSync(path.join(root, 'docs', 'options.md'), 'utf8')
const errorsDoc = readFileSync(path.join(root, 'docs', 'errors.md'), 'utf8')

t.test('every error code is unique and documented in docs/errors.md', async (t) => {
  t.equal(new Set(allErrorCodes).size, allErrorCodes.length, 'no code is used twice')
  for (const code of allErrorCodes) t.ok(errorsDoc.includes(`\`${code}\``), `${code} is in docs/errors.md`)
  const documented = new Set(errorsDoc.match(/SYM_[A-Z_]*[A-Z]/g))
  documented.delete('SYM_ERR') // the family's name, as in `SYM_ERR_…`
  for (const code of documented) t.ok(allErrorCodes.includes(code), `${code} in docs/errors.md is a code src/errors.ts defines`)
})

t.test('every SYM_ code in the source is one of src/errors.ts', async (t) => {
  // One family: a code written as a literal anywhere else (a second family, a typo) fails here;
  // `SYM_ERR` alone is the family's name in comments.
  const stray: string[] = []
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.name.endsWith('.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/SYM_[A-Z_]*[A-Z]/g)) {
          if (!allErrorCodes.includes(m[0]) && m[0] !== 'SYM_ERR') stray.push(`${path.relative(root, p)}: ${m[0]}`)
        }
      }
    }
  }
  walk(path.join(root, 'src'))
  t.same(stray, [], 'no SYM_ code outside the family')
})

t.test('the options table in docs/options.md is the one generated from the schema', async (t) => {
  t.ok(optionsDoc.includes(renderOptionsMarkdown().trim()), 'docs/options.md contains renderOptionsMarkdown() verbatim (regenerate with `npm run docs:options`)')
})

/** The rows of the markdown table under `## heading`, as arrays of cell texts (header and rule skipped). */
function tableUnder (doc: string, heading: string): string[][] {
  const start = doc.indexOf(`\n## ${heading}\n`)
  if (start < 0) return []
  const section = doc.slice(start + 1).split(/\n## /)[0]
  return section.split('\n').filter((l) => l.startsWith('|')).slice(2)
    .map((l) => l.replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim()))
}

/** Every error class of src/errors.ts, instantiated: its code and exit status. */
const errorClasses = Object.entries(errors)
  .filter(([, v]) => typeof v === 'function' && v.prototype instanceof errors.SymphonyError)
  .map(([name, v]) => {
    const e = new (v as new (m: string) => errors.SymphonyError)('test')
    return { name, code: e.code, exitCode: e.exitCode }
  })

/**
 * The exit statuses the process itself sets, outside the error classes: `process.exit(N)`,
 * `process.exitCode = N` and named constants (`EX_SOFTWARE = 70`) in main-thread code. A proxy
 * thread's process.exit() ends only that thread (src/worker/ is left out).
 */
function literalExits (): number[] {
  const found = new Set<number>()
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) { if (e.name !== 'worker') walk(p) } else if (e.name.endsWith('.ts')) {
        const src = readFileSync(p, 'utf8')
        for (const m of src.matchAll(/process\.exit(?:Code\s*=\s*|\()\s*(\d+)|\bconst EX_[A-Z]+ = (\d+)/g)) found.add(Number(m[1] ?? m[2]))
      }
    }
  }
  walk(path.join(root, 'src'))
  return [...found].sort((a, b) => a - b)
}

// Regression: the table listed exit 1 for SYM_ERR_START and SYM_ERR_PORT_IN_USE, which never
// stop the command. Adding a condition (a class with its own exitCode) needs only its row.
t.test('the exit-status table in docs/errors.md is the one the code has', async (t) => {
  const exits = tableUnder(errorsDoc, 'Errors that stop the command')
  const logged = tableUnder(errorsDoc, 'Errors logged while running')
  t.ok(exits.length >= 8 && logged.length >= 2, 'both tables found')
  const coded = new Map<string, number>()
  for (const [exit, cell] of exits) {
    t.match(exit, /^\d+$/, `exit status ${exit} is a number`)
    if (cell !== '') {
      const code = /^`(SYM_ERR_\w+)`$/.exec(cell)?.[1] ?? cell
      t.notOk(coded.has(code), `${code} has one row`)
      coded.set(code, Number(exit))
    }
  }
  const loggedCodes = new Set(logged.map(([cell]) => /^`(SYM_ERR_\w+)`$/.exec(cell)?.[1] ?? cell))
  t.ok(errorClasses.length >= 7, `${errorClasses.length} error classes`)
  for (const c of errorClasses) {
    if (c.exitCode !== null) t.equal(coded.get(c.code), c.exitCode, `${c.name} (${c.code}) stops the command: exit ${c.exitCode} in the table`)
    else t.ok(loggedCodes.has(c.code) && !coded.has(c.code), `${c.name} (${c.code}) never stops the command: among the errors logged while running, not in the exit table`)
  }
  for (const code of [...coded.keys(), ...loggedCodes]) t.ok(errorClasses.some((c) => c.code === code), `${code} is an error class's code`)
  // Both ways: every status the code can end with has a row, and every row's status is one of them.
  const fromCode = new Set([...errorClasses.flatMap((c) => c.exitCode === null ? [] : [c.exitCode]), ...literalExits()])
  const fromDoc = new Set(exits.map(([exit]) => Number(exit)))
  t.same([...fromDoc].sort((a, b) => a - b), [...fromCode].sort((a, b) => a - b), 'the statuses in the table are the ones the code sets')
})
