import t from 'tap'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { allErrorCodes } from '../src/errors'
import { renderOptionsMarkdown } from '../src/config/help'

const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8')

t.test('every error code is unique and documented in the README', async (t) => {
  t.equal(new Set(allErrorCodes).size, allErrorCodes.length, 'no code is used twice')
  for (const code of allErrorCodes) t.ok(readme.includes(`\`${code}\``), `${code} is in the README`)
})

t.test('the README options table is the one generated from the schema', async (t) => {
  t.ok(readme.includes(renderOptionsMarkdown().trim()), 'README contains renderOptionsMarkdown() verbatim (regenerate with `npm run docs:options`)')
})
