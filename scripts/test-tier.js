#!/usr/bin/env node
'use strict'
// Prints the compiled test files of one tier (package.json "testTiers"), for `tap $(...)`.
// A tier lists test files or folders under test/ (a folder takes every test file in it);
// test/tiers.test.ts checks that every test file is in exactly one tier.
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const tier = process.argv[2]
const tiers = require(path.join(root, 'package.json')).testTiers
if (!tiers || !Array.isArray(tiers[tier])) {
  process.stderr.write(`test-tier: no tier "${tier}"; package.json testTiers has ${Object.keys(tiers || {}).join(', ')}\n`)
  process.exit(2)
}
const files = []
for (const entry of tiers[tier]) {
  const src = path.join(root, entry)
  const list = fs.statSync(src).isDirectory()
    ? fs.readdirSync(src).filter((f) => /\.test\.ts$/.test(f)).map((f) => path.join(entry, f))
    : [entry]
  for (const f of list) files.push(path.join('dist', f.replace(/\.ts$/, '.js')))
}
process.stdout.write(files.join('\n') + '\n')
