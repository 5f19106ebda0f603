import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
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
