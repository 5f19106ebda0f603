#!/usr/bin/env node
'use strict'
// First of all: glibc's mmap threshold, which only a fresh exec can set (src/startup/malloc-tunables.ts).
require('../dist/src/startup/malloc-tunables.js').reexecWithTunables()
require('../dist/src/cli.js').main(process.argv.slice(2))
