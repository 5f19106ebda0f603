import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { UnsupportedRuntimeError } from '../../src/errors'
import { currentFacts, loadBuild, loadUws, UWS_HEAD_BYTES } from '../../src/uws/load'
import { selectBuild } from '../../src/uws/select'

// Compiled to dist/test/uws/: the project root is three levels up.
const ROOT = resolve(__dirname, '..', '..', '..')

t.test('this process loads the native build select.ts prefers, and it is what it claims', async (t) => {
  const facts = currentFacts()
  const selection = selectBuild(facts)
  if (!selection.ok) {
    t.throws(() => loadUws(), UnsupportedRuntimeError, `refused here: ${selection.reason}`)
    return
  }
  const { uws, runtime } = loadUws()
  t.equal(runtime.build, selection.candidates[0].build, `Node ${facts.node}, glibc ${String(facts.glibc)}: uWS ${runtime.build}`)
  t.match(runtime.file, /uws_\w+_\w+_\d+\.node$/, 'a native binary')
  t.equal(typeof uws.us_socket_local_port, 'function', 'a native API the JS emulation lacks')
  // The capability table agrees with the binary: app.filter exists exactly where it says so.
  const app = uws.App() as unknown as { filter?: unknown, close: () => void }
  t.equal(typeof app.filter === 'function', runtime.filter, `filter: ${String(runtime.filter)}`)
  app.close()
})

t.test('a binary that should load but does not: the next build, else one refusal (no crash)', async (t) => {
  const facts = { ...currentFacts(), platform: 'linux', arch: 'x64', abi: 115, glibc: '2.41' }
  const opened: string[] = []
  const fakeUws = { App: () => {}, us_listen_socket_close: () => {} }
  const failNew = (file: string): unknown => {
    opened.push(file)
    if (file.includes('btc-vision')) throw new Error("/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found\n(required by it)")
    return fakeUws
  }
  const got = loadBuild(facts, failNew)
  t.equal(got.runtime.build, '20.30.0', 'falls back to the older build')
  t.equal(opened.length, 2, 'after trying the newer one')
  t.match(opened[0], /@btc-vision\/uwebsockets\.js\/uws_linux_x64_115\.node$/, 'the 20.57 binary itself, not its package entry')
  t.match(opened[1], /uWebSockets\.js\/binaries\/uws_linux_x64_115\.node$/, 'the 20.30 binary itself, not src/uws.js (which falls back to the emulation)')

  const err = t.throws(() => loadBuild(facts, () => { throw new Error('cannot open shared object file') })) as UnsupportedRuntimeError
  t.type(err, UnsupportedRuntimeError)
  t.equal(err.exitCode, 7)
  t.match(err.message, /^cannot start: no native uWebSockets\.js build loads on Node v[\d.]+ with glibc 2\.41 here; tried 20\.57\.0 \(needs glibc >= 2\.38\): cannot open shared object file; 20\.30\.0 \(needs glibc >= 2\.27\): cannot open shared object file; use Node 24 LTS/)
  t.notMatch(err.message, /\n/, 'one line')

  t.throws(() => loadBuild(facts, () => ({ App: 'not a function' })), UnsupportedRuntimeError, 'a file that is not uWS is refused too')
})

t.test('uWS 20.57 loads with UWS_HTTP_MAX_HEADERS_SIZE at UWS_HEAD_BYTES, and the environment is put back after', async (t) => {
  const facts = { ...currentFacts(), platform: 'linux', arch: 'x64', abi: 137, glibc: '2.41' }
  const fakeUws = { App: () => {}, us_listen_socket_close: () => {} }
  const seen: Array<string | undefined> = []
  const open = (): unknown => { seen.push(process.env.UWS_HTTP_MAX_HEADERS_SIZE); return fakeUws }
  const before = process.env.UWS_HTTP_MAX_HEADERS_SIZE
  t.teardown(() => { if (before === undefined) delete process.env.UWS_HTTP_MAX_HEADERS_SIZE; else process.env.UWS_HTTP_MAX_HEADERS_SIZE = before })

  delete process.env.UWS_HTTP_MAX_HEADERS_SIZE
  t.equal(loadBuild(facts, open).runtime.build, '20.57.0')
  t.same(seen, [String(UWS_HEAD_BYTES)], 'set while the binary loads')
  t.notOk('UWS_HTTP_MAX_HEADERS_SIZE' in process.env, 'and gone after (replicas do not inherit it)')

  process.env.UWS_HTTP_MAX_HEADERS_SIZE = '1234'
  loadBuild(facts, open)
  t.same(seen, [String(UWS_HEAD_BYTES), String(UWS_HEAD_BYTES)], 'a value already there is replaced for the load')
  t.equal(process.env.UWS_HTTP_MAX_HEADERS_SIZE, '1234', 'and put back after')

  const failing = (): unknown => { throw new Error('cannot open shared object file') }
  t.throws(() => loadBuild({ ...facts, abi: 127 }, failing), UnsupportedRuntimeError)
  t.equal(process.env.UWS_HTTP_MAX_HEADERS_SIZE, '1234', 'put back after a failed load too')
})

t.test('a real dlopen failure is a refusal: the Node 24 binary of 20.57 in this process', { skip: process.platform !== 'linux' || process.arch !== 'x64' ? 'linux/x64 only' : false }, async (t) => {
  // This process is Node 20 (ABI 115): the ABI-137 binary never loads in it, whatever the glibc.
  // Claiming glibc 2.41 makes select.ts choose it, so the failure is dlopen's own.
  const facts = { ...currentFacts(), abi: 137, glibc: '2.41' }
  if (process.versions.modules === '137') { t.pass('this is Node 24: nothing to fake'); return }
  const err = t.throws(() => loadBuild(facts)) as Error
  t.type(err, UnsupportedRuntimeError)
  t.match(err.message, /tried 20\.57\.0 \(needs glibc >= 2\.38\): /, err.message)
})

t.test('UWS_USE_FALLBACK=1 changes nothing: the native binary is mapped, the emulation never loaded', { skip: process.platform !== 'linux' ? '/proc/self/maps is Linux\'s' : false }, async (t) => {
  const script = `
    const { uWS, uwsRuntime } = require(${JSON.stringify(join(ROOT, 'dist', 'src', 'uws'))})
    const maps = require('fs').readFileSync('/proc/self/maps', 'utf8')
    const emulation = Object.keys(require.cache).filter((f) => /uWebSockets\\.js[\\\\/](dist|src)[\\\\/]/.test(f))
    console.log(JSON.stringify({ build: uwsRuntime.build, mapped: maps.includes(uwsRuntime.file), native: typeof uWS.us_socket_local_port, emulation }))`
  for (const value of ['1', 'true']) {
    const r = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, UWS_USE_FALLBACK: value }, encoding: 'utf8', timeout: 30_000 })
    t.equal(r.status, 0, `UWS_USE_FALLBACK=${value}: runs (${r.stderr.trim()})`)
    const got = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { build: string, mapped: boolean, native: string, emulation: string[] }
    t.ok(got.mapped, `UWS_USE_FALLBACK=${value}: ${got.build}'s binary is mapped in /proc/self/maps`)
    t.equal(got.native, 'function', 'the native API is there')
    t.same(got.emulation, [], 'no module of the emulation (uWebSockets.js/dist, src/uws.js) was loaded')
    t.notMatch(r.stdout + r.stderr, /fallback/i, 'no fallback message')
  }
})
