import t from 'tap'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { allErrorCodes } from '../src/errors'
import { renderOptionsMarkdown } from '../src/config/help'

const docs = (name: string): string => readFileSync(path.join(__dirname, '..', '..', 'docs', name), 'utf8')
const errorsDoc = docs('errors.md')
const optionsDoc = docs('options.md')

t.test('every error code is unique and documented in docs/errors.md', async (t) => {
  t.equal(new Set(allErrorCodes).size, allErrorCodes.length, 'no code is used twice')
  for (const code of allErrorCodes) t.ok(errorsDoc.includes(`\`${code}\``), `${code} is in docs/errors.md`)
})

t.test('the docs/options.md table is the one generated from the schema', async (t) => {
  t.ok(optionsDoc.includes(renderOptionsMarkdown().trim()), 'docs/options.md contains renderOptionsMarkdown() verbatim (regenerate with `npm run docs:options`)')
})
