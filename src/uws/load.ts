/**
 * Loads the native uWebSockets.js binary that select.ts chose, by requiring its `.node` file
 * directly. The packages' JS entries are never run: the 20.30 one swaps in a pure-JS emulation on
 * node:http when its binary does not load, or whenever UWS_USE_FALLBACK is set, and symphony
 * crashes on that emulation (it lacks us_socket_local_port, among others). A binary that should
 * load but fails to (dlopen refuses it) is reported the same way as one that cannot fit: an
 * UnsupportedRuntimeError, one line and exit 7, never a crash.
 */
import path from 'node:path'
import type * as UwsModule from 'uWebSockets.js'
import { UnsupportedRuntimeError } from '../errors'
import { binaryName, selectBuild, type BuildSpec, type RuntimeFacts } from './select'

/** The uWS API. Typed by the 20.30 package's index.d.ts; what 20.57 adds is asked through UwsRuntime. */
export type Uws = typeof UwsModule

/** The build this process runs on and what it can do: the only thing code may branch on. */
export interface UwsRuntime {
  readonly build: BuildSpec['build']
  /** `app.filter()` exists: a hook per client connection opened and closed. */
  readonly filter: boolean
  /** uWS answers requests its parser refuses (400/505) instead of closing in silence. */
  readonly answersMalformed: boolean
  /** Its HTTP timeouts can be set per App (src/uws/timeouts.ts sets them to 10 s). */
  readonly settableTimeouts: boolean
  /** The most header lines its parser passes on. */
  readonly headerLines: number
  /** A paused upload is read on while each read fills 512 KiB (docs/limits.md); the gateway cannot stop it, scripts/uws-probe.js measures it. */
  readonly readsPastPause: boolean
  /** The binary's path. */
  readonly file: string
}

/**
 * The largest head uWS itself lets through, where the build lets it be set: above the largest
 * `--max-header-size` (48 KiB), so that the gateway's own limit, with its 431 and error code, is
 * the one clients meet, and about where uWS 20.30's fixed limit is. 20.57 reads it when its binary
 * loads, from the process's environment: the main thread loads it first (src/cli.ts), before any
 * proxy thread, whose copy of process.env would not reach the C library (the library is loaded
 * once per process, so the threads' loads do not read it again).
 */
export const UWS_HEAD_BYTES = 50 * 1024

export interface LoadedUws {
  readonly uws: Uws
  readonly runtime: UwsRuntime
}

/** This process's facts for selectBuild(). */
export function currentFacts (): RuntimeFacts {
  // The report's header has the glibc this process really runs on; it lacks the field on musl.
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header
  return {
    platform: process.platform,
    arch: process.arch,
    abi: Number(process.versions.modules),
    node: process.version,
    glibc: header?.glibcVersionRuntime
  }
}

/** Where `spec`'s binary for `facts` is (its package's entry is resolved, never run). */
export function binaryPath (spec: BuildSpec, facts: RuntimeFacts): string {
  return path.join(path.dirname(require.resolve(spec.pkg)), spec.dir, binaryName(facts))
}

/**
 * Loads the best build for `facts` that really loads. `open` is `require` but for tests, which
 * make a binary fail to load. Throws UnsupportedRuntimeError when none does.
 */
export function loadBuild (facts: RuntimeFacts, open: (file: string) => unknown = require): LoadedUws {
  const selection = selectBuild(facts)
  if (!selection.ok) throw new UnsupportedRuntimeError(`cannot start: ${selection.reason}`)
  const failures: string[] = []
  for (const spec of selection.candidates) {
    try {
      const file = binaryPath(spec, facts)
      const uws = withEnv(spec.headSizeEnv, String(UWS_HEAD_BYTES), () => open(file)) as Partial<Uws> | null
      if (typeof uws?.App !== 'function' || typeof uws.us_listen_socket_close !== 'function') throw new Error(`${file} is not a uWebSockets.js binary`)
      return { uws: uws as Uws, runtime: { build: spec.build, filter: spec.filter, answersMalformed: spec.answersMalformed, settableTimeouts: spec.settableTimeouts, headerLines: spec.headerLines, readsPastPause: spec.readsPastPause, file } }
    } catch (err) {
      failures.push(`${spec.build} (needs glibc >= ${spec.glibc}): ${firstLine(err)}`)
    }
  }
  const libc = facts.glibc === undefined ? 'no glibc' : `glibc ${facts.glibc}`
  throw new UnsupportedRuntimeError(`cannot start: no native uWebSockets.js build loads on Node ${facts.node} with ${libc} here; tried ${failures.join('; ')}; use Node 24 LTS on a host with glibc >= 2.38 (Debian 13, Ubuntu 24.04), or symphony's container image (docs/deployment.md)`)
}

/**
 * Runs `load` with `name` set to `value` in the environment, then puts back what was there: the
 * binary reads it once as it loads (later loads in other threads reuse the loaded library), and
 * processes symphony starts (replicas) must not inherit it. uWS's own limit replaces whatever the
 * environment had: --max-header-size is the setting.
 */
function withEnv<T> (name: string | null, value: string, load: () => T): T {
  if (name === null) return load()
  const before = process.env[name]
  process.env[name] = value
  try {
    return load()
  } finally {
    if (before === undefined) Reflect.deleteProperty(process.env, name)
    else process.env[name] = before
  }
}

function firstLine (err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n').map((l) => l.trim()).filter((l) => l !== '')[0] ?? 'failed'
}

let loaded: LoadedUws | null = null

/** This process's uWS, loaded once per thread (each thread loads the binary for itself). */
export function loadUws (): LoadedUws {
  loaded ??= loadBuild(currentFacts())
  return loaded
}
