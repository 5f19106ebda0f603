#!/usr/bin/env node
'use strict'
// Prints each failing assertion of a TAP stream (tap's "tap" reporter) as one line naming its file,
// subtests and assertion, with the first lines of its diagnostics; .ci/run calls it at the end so
// that a failure is named in the last lines of CI's output, not only somewhere above them.
// usage: node scripts/tap-failures.js FILE [MAX]   (prints at most MAX failures, 20 by default)
const fs = require('node:fs')

const [file, maxArg] = process.argv.slice(2)
const max = Number(maxArg) || 20
const lines = fs.readFileSync(file, 'latin1').split('\n')
const stack = [] // [{ indent, name, printedBefore }], the open "# Subtest:" lines
let printed = 0

const indentOf = (line) => line.length - line.trimStart().length

/** What a failure's diagnostics (its YAML block, indented deeper) say of why: found, wanted, a message, a signal. */
function diagnostics(from, indent) {
  const out = []
  for (let j = from; j < lines.length && out.length < 3; j++) {
    const l = lines[j]
    if (l.trim() === '' || indentOf(l) <= indent) break
    const t = l.trim()
    if (/^(found|wanted|compare|message|signal|code|timeout|expired|error): ./.test(t)) out.push(t.slice(0, 200))
    // t.same's diff: its changed lines, expected (-) then actual (+), on one line.
    else if (t === 'diff: |') {
      const changed = []
      for (j++; j < lines.length && indentOf(lines[j]) > indentOf(l); j++) {
        const d = lines[j].trim()
        if (/^[-+]/.test(d) && !/^(---|\+\+\+) /.test(d)) changed.push(d)
      }
      j--
      out.push(`diff: ${changed.join(' ').replace(/\s+/g, ' ').slice(0, 200)}`)
    }
  }
  return out
}

for (let i = 0; i < lines.length && printed < max; i++) {
  const line = lines[i]
  const indent = indentOf(line)
  const t = line.trim()
  const sub = /^# Subtest: (.*)$/.exec(t)
  if (sub) {
    while (stack.length && stack[stack.length - 1].indent >= indent) stack.pop()
    stack.push({ indent, name: sub[1], printedBefore: printed })
    continue
  }
  const m = /^not ok \d+ - (.*?)(\s+# time=.*)?$/.exec(t)
  if (!m || /# TODO\b/.test(t)) continue // a TODO's "not ok" is no failure
  // A "not ok" closes the subtest of the same name; those deeper than it are done.
  while (stack.length && stack[stack.length - 1].indent > indent) stack.pop()
  const top = stack[stack.length - 1]
  const closes = top && top.indent === indent && top.name === m[1]
  if (closes) stack.pop()
  // A subtest that failed through its assertions was named by them; one that failed without any
  // (a time-out, a crash, a plan not met) is named itself.
  if (closes && printed > top.printedBefore) continue
  const parents = stack.filter((s) => s.indent < indent).map((s) => s.name)
  printed++
  console.log(`[ci] not ok: ${[...parents, m[1]].join(' > ')}`)
  for (const d of diagnostics(i + 1, indent)) console.log(`[ci]     ${d}`)
}
if (printed === max) console.log(`[ci] (the list stops at ${max} failures)`)
