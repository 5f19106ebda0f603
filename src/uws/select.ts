/**
 * Which native uWebSockets.js build can run here: a pure function of the platform, the CPU, the
 * Node ABI (`process.versions.modules`) and the C library, so that every case is a table test
 * (test/uws/select.test.ts). load.ts then loads the chosen binary and confirms it; nothing else in
 * the code names a uWS version. symphony never uses uWS's pure-JS emulation (issue #18): where no
 * native build fits, the answer is a refusal that says why and what to run instead.
 */

/** What decides which binary can load. */
export interface RuntimeFacts {
  /** `process.platform`. */
  readonly platform: string
  /** `process.arch`. */
  readonly arch: string
  /** `process.versions.modules`: the ABI a native addon is built for (115 = Node 20, 127 = 22, 137 = 24, 141 = 25). */
  readonly abi: number
  /** `process.version`, for messages. */
  readonly node: string
  /**
   * `process.report.getReport().header.glibcVersionRuntime`: the glibc this process runs on.
   * Undefined on Linux means another C library (musl: Alpine); undefined elsewhere is normal.
   */
  readonly glibc: string | undefined
}

/** One uWebSockets.js build symphony ships, and what it can do. The one place versions live. */
export interface BuildSpec {
  readonly build: '20.57.0' | '20.30.0'
  /** The npm package holding the binaries (its JS entry is never run). */
  readonly pkg: string
  /** The folder of the binaries, relative to the folder of the package's JS entry. */
  readonly dir: string
  readonly abis: readonly number[]
  readonly platforms: readonly string[]
  readonly arches: readonly string[]
  /** The oldest glibc its Linux binaries load on (their newest GLIBC_ symbol version, objdump -T). */
  readonly glibc: string
  /** `app.filter(handler)`: a hook per client connection opened and closed (uWS.js >= 20.40). */
  readonly filter: boolean
  /**
   * Its parser answers what it refuses (400 for a malformed head, 505 for a request line it
   * cannot read, HTTP/1.0 included) instead of closing in silence (uWS.js >= 20.50).
   */
  readonly answersMalformed: boolean
  /**
   * Its HTTP timeout (head, body rate, idle keep-alive) is set per App with `setIdleTimeout(s)`
   * and `setResponseTimeout(s)`, 30 s each unless set; false: fixed at 10 s. src/uws/timeouts.ts
   * sets them to 10 s where they can be set.
   */
  readonly settableTimeouts: boolean
  /** The most header lines (Host included) its parser passes on; more are never forwarded. */
  readonly headerLines: number
  /**
   * Its uSockets goes on reading a socket after `res.pause()` for as long as each `recv()` fills
   * its whole 512 KiB buffer (`us_internal_dispatch_ready_poll`'s read loop, which never looks at
   * the pause): a fast upload is read into memory. A receive buffer kept below 512 KiB stops it:
   * where this is true the proxy threads ask the main thread to set one on each new listen socket
   * (src/gateway/receive-buffers.ts; docs/limits.md). 20.30 reads once per wake-up.
   */
  readonly readsPastPause: boolean
  /**
   * The environment variable its parser reads its largest head from, once, when the binary loads
   * (4 KiB when unset); null: fixed (about 50 KB). load.ts sets it to UWS_HEAD_BYTES.
   */
  readonly headSizeEnv: string | null
}

/**
 * In order of preference: the newer build wherever it loads, the old one kept for Node 20 on a
 * glibc older than 2.38 (Debian 12, Amazon Linux 2023), which costs one dependency.
 */
export const BUILDS: readonly BuildSpec[] = [
  {
    // A build of uWebSockets.js v20.57 on npm (the official package is published only on GitHub).
    build: '20.57.0',
    pkg: '@btc-vision/uwebsockets.js',
    dir: '',
    abis: [115, 127, 137, 141],
    platforms: ['linux', 'darwin'],
    arches: ['x64', 'arm64'],
    // __isoc23_sscanf, __isoc23_strtol, __isoc23_strtoul, as upstream's builds (uNetworking/uWebSockets.js#1196).
    glibc: '2.38',
    filter: true,
    answersMalformed: true,
    settableTimeouts: true,
    // 99 and more are answered 431 by uWS itself (scripts/uws-probe.js).
    headerLines: 98,
    readsPastPause: true,
    headSizeEnv: 'UWS_HTTP_MAX_HEADERS_SIZE'
  },
  {
    // @trufflesuite/uws-js-unofficial@20.30.0-unofficial.0, installed as `uWebSockets.js`.
    build: '20.30.0',
    pkg: 'uWebSockets.js',
    dir: '../binaries',
    abis: [115],
    platforms: ['linux', 'darwin'],
    arches: ['x64', 'arm64'],
    glibc: '2.27',
    filter: false,
    answersMalformed: false,
    settableTimeouts: false,
    // 49 and more: the connection is closed unanswered (scripts/uws-probe.js).
    headerLines: 48,
    readsPastPause: false,
    headSizeEnv: null
  }
]

/** Node lines by ABI, for messages. */
const NODE_LINE: Record<number, string> = { 93: '16', 108: '18', 115: '20', 127: '22', 137: '24', 141: '25' }

export type Selection =
  /** Builds to try in this order (never empty); load.ts takes the first that loads. */
  | { readonly ok: true, readonly candidates: readonly BuildSpec[] }
  /** No build can run: `reason` is one sentence, ending with the way out. */
  | { readonly ok: false, readonly reason: string }

/** The binary's file name inside its package's `dir`, as uWS.js names them. */
export function binaryName (facts: RuntimeFacts): string {
  return `uws_${facts.platform}_${facts.arch}_${facts.abi}.node`
}

/** Compares dotted versions numerically: negative, 0 or positive. */
export function compareVersions (a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

const IMAGE = 'symphony\'s container image (docs/deployment.md)'
const NEW_HOST = 'a host with glibc >= 2.38 (Debian 13, Ubuntu 24.04)'
const NODE20_ABI = 115

/** The builds that can run on `facts`, best first, or why none can and what to do instead. */
export function selectBuild (facts: RuntimeFacts): Selection {
  const { platform, arch, abi, node, glibc } = facts
  const fits = BUILDS.filter((b) => b.platforms.includes(platform) && b.arches.includes(arch))
  if (fits.length === 0) {
    return { ok: false, reason: `there is no native uWebSockets.js build for ${platform}/${arch} (only Linux and macOS, x64 and arm64); run ${IMAGE}` }
  }
  if (platform === 'linux' && glibc === undefined) {
    return { ok: false, reason: `Node ${node} runs on a C library other than glibc (musl, as on Alpine), for which there is no native uWebSockets.js build; use Node 24 LTS on ${NEW_HOST}, or ${IMAGE}` }
  }
  const forAbi = fits.filter((b) => b.abis.includes(abi))
  if (forAbi.length === 0) {
    const line = NODE_LINE[abi] === undefined ? `ABI ${abi}` : `Node ${NODE_LINE[abi]}`
    return { ok: false, reason: `Node ${node} (${line}) has no native uWebSockets.js build; use Node 24 LTS or 22 (or 20 on an older glibc), or ${IMAGE}` }
  }
  // glibc matters on Linux only: macOS has none, and its binaries need nothing more.
  const loads = (b: BuildSpec): boolean => platform !== 'linux' || compareVersions(glibc as string, b.glibc) >= 0
  const candidates = forAbi.filter(loads)
  if (candidates.length > 0) return { ok: true, candidates }
  const needed = forAbi.map((b) => b.glibc).sort(compareVersions)[0]
  // Node 20 is the way out on this host if the old build loads here.
  const node20 = abi !== NODE20_ABI && fits.some((b) => b.abis.includes(NODE20_ABI) && loads(b))
    ? 'Node 20 here (symphony\'s older uWebSockets.js build), '
    : ''
  return {
    ok: false,
    reason: `Node ${node} needs glibc >= ${needed} for its native uWebSockets.js build and this host has glibc ${String(glibc)}; use ${node20}Node 24 LTS or 22 on ${NEW_HOST}, or ${IMAGE}`
  }
}
