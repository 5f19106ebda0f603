import t from 'tap'
import { BUILDS, binaryName, compareVersions, selectBuild, type RuntimeFacts } from '../../src/uws/select'

const NODE: Record<number, string> = { 93: 'v16.20.2', 108: 'v18.20.8', 115: 'v20.20.2', 127: 'v22.23.5', 137: 'v24.22.3', 141: 'v25.2.1', 147: 'v26.0.0' }
const facts = (platform: string, arch: string, abi: number, glibc: string | undefined): RuntimeFacts => ({ platform, arch, abi, node: NODE[abi], glibc })

t.test('which build runs where: ABI × glibc × musl × platform × arch', async (t) => {
  // [platform, arch, abi, glibc, builds in order of preference | a pattern the refusal matches]
  const cases: Array<[string, string, number, string | undefined, string[] | RegExp]> = [
    // Node 20: the new build where glibc allows it, the old one behind it or alone.
    ['linux', 'x64', 115, '2.41', ['20.57.0', '20.30.0']],
    ['linux', 'x64', 115, '2.38', ['20.57.0', '20.30.0']],
    ['linux', 'x64', 115, '2.36', ['20.30.0']],
    ['linux', 'x64', 115, '2.34', ['20.30.0']],
    ['linux', 'x64', 115, '2.27', ['20.30.0']],
    ['linux', 'arm64', 115, '2.36', ['20.30.0']],
    ['linux', 'x64', 115, '2.26', /^Node v20\.20\.2 needs glibc >= 2\.27 .* this host has glibc 2\.26; use Node 24 LTS or 22 on a host with glibc >= 2\.38/],
    // Node 22, 24, 25: only the new build.
    ['linux', 'x64', 127, '2.41', ['20.57.0']],
    ['linux', 'x64', 137, '2.39', ['20.57.0']],
    ['linux', 'arm64', 137, '2.41', ['20.57.0']],
    ['linux', 'x64', 141, '2.38', ['20.57.0']],
    ['linux', 'x64', 137, '2.36', /^Node v24\.22\.3 needs glibc >= 2\.38 .* this host has glibc 2\.36; use Node 20 here \(symphony's older uWebSockets\.js build\), Node 24 LTS or 22 on a host with glibc >= 2\.38 \(Debian 13, Ubuntu 24\.04\), or symphony's container image/],
    ['linux', 'x64', 127, '2.34', /^Node v22\.23\.5 needs glibc >= 2\.38 .* glibc 2\.34; use Node 20 here/],
    ['linux', 'x64', 137, '2.26', /^Node v24\.22\.3 needs glibc >= 2\.38 .* glibc 2\.26; use Node 24 LTS or 22 on/],
    ['linux', 'x64', 137, '2.37.9', /needs glibc >= 2\.38/],
    // musl (Alpine): no build at all, whatever the Node.
    ['linux', 'x64', 115, undefined, /C library other than glibc \(musl, as on Alpine\).*container image/],
    ['linux', 'x64', 137, undefined, /C library other than glibc/],
    ['linux', 'arm64', 137, undefined, /C library other than glibc/],
    // Node lines without a build.
    ['linux', 'x64', 108, '2.41', /^Node v18\.20\.8 \(Node 18\) has no native uWebSockets\.js build; use Node 24 LTS or 22/],
    ['linux', 'x64', 93, '2.41', /\(Node 16\) has no native/],
    ['linux', 'x64', 147, '2.41', /^Node v26\.0\.0 \(ABI 147\) has no native/],
    // Other platforms and CPUs.
    ['darwin', 'arm64', 137, undefined, ['20.57.0']],
    ['darwin', 'x64', 115, undefined, ['20.57.0', '20.30.0']],
    ['win32', 'x64', 137, undefined, /no native uWebSockets\.js build for win32\/x64 .*; run symphony's container image/],
    ['linux', 'arm', 115, '2.36', /for linux\/arm /],
    ['linux', 'ia32', 115, '2.36', /for linux\/ia32 /],
    ['freebsd', 'x64', 137, undefined, /for freebsd\/x64/]
  ]
  for (const [platform, arch, abi, glibc, want] of cases) {
    const what = `${platform}/${arch} ABI ${abi} glibc ${glibc ?? '(none)'}`
    const got = selectBuild(facts(platform, arch, abi, glibc))
    if (Array.isArray(want)) {
      t.same(got.ok ? got.candidates.map((b) => b.build) : got.reason, want, what)
    } else {
      t.notOk(got.ok, `${what}: refused`)
      if (!got.ok) {
        t.match(got.reason, want, `${what}: ${got.reason}`)
        t.notMatch(got.reason, /\n/, `${what}: one line`)
      }
    }
  }
})

t.test('every build\'s capabilities are data, in one table', async (t) => {
  t.same(BUILDS.map((b) => [b.build, b.filter, b.answersMalformed, b.settableTimeouts, b.headerLines, b.readsPastPause, b.headSizeEnv]), [['20.57.0', true, true, true, 98, true, 'UWS_HTTP_MAX_HEADERS_SIZE'], ['20.30.0', false, false, false, 48, false, null]])
})

t.test('binary names and version order', async (t) => {
  t.equal(binaryName(facts('linux', 'x64', 137, '2.41')), 'uws_linux_x64_137.node')
  t.ok(compareVersions('2.38', '2.38') === 0)
  t.ok(compareVersions('2.4', '2.38') < 0, '2.4 is older than 2.38 (numeric, not string order)')
  t.ok(compareVersions('2.41', '2.38') > 0)
  t.ok(compareVersions('3.0', '2.99') > 0)
  t.ok(compareVersions('2.38.1', '2.38') > 0)
})
