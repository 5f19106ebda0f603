#!/usr/bin/env node
'use strict'
// `npm test` after the build: the parallel suite (tap, as the "tap" section of package.json configures it), then the serial
// one (the files that change the engine itself), the second even when the first failed, so one
// run reports every failure. Exits non-zero when either failed.
const { spawnSync } = require('node:child_process')

// npm puts node_modules/.bin on PATH for its scripts, so `tap` is the project's own.
const runs = [['tap', []], ['npm', ['run', 'test:serial']]]
let failed = false
for (const [cmd, args] of runs) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' })
  if (r.status !== 0) failed = true
}
process.exit(failed ? 1 : 0)
