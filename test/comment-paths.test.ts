import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

/**
 * A comment that names a file must stay true when the file moves: every repository path named
 * in a comment under src/, workers/, test/, bench/ and scripts/ exists.
 */
const root = path.join(__dirname, '..', '..')
const DIRS = ['src', 'workers', 'test', 'bench', 'scripts']
const PATH = /(?<![\w./-])(?:\.\.\/)*(?:src|test|bench|scripts|workers|docs|examples|grafana|bin|\.ci)\/[\w./{},-]*[\w}/]|\b[\w-]+\.md\b/g

function files (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return e.name === 'results' ? [] : files(p)
    return /\.(ts|sh)$/.test(e.name) ? [p] : []
  })
}

/** The comment text of a file: // and /* *\/ comments in TypeScript, # comments in shell. */
function comments (source: string, shell: boolean): string {
  if (shell) return source.split('\n').map((l) => /(?:^|\s)#(?!!)(.*)$/.exec(l)?.[1] ?? '').join('\n')
  const out: string[] = []
  for (const m of source.matchAll(/\/\*[\s\S]*?\*\/|(?<![:'"`\w])\/\/[^\n]*/g)) out.push(m[0])
  return out.join('\n')
}

/** `bench/results/latest.{json,md}` → both names. */
function expand (p: string): string[] {
  const m = /^(.*)\{([^}]*)\}(.*)$/.exec(p)
  return m === null ? [p] : m[2].split(',').flatMap((alt) => expand(m[1] + alt + m[3]))
}

function exists (file: string, p: string): boolean {
  if (!p.includes('/')) return existsSync(path.join(root, p)) || existsSync(path.join(path.dirname(file), p))
  const clean = p.replace(/^(\.\.\/)+/, '').replace(/[./]+$/, (s) => s.endsWith('/') ? '/' : '')
  return existsSync(path.join(root, clean)) || existsSync(path.join(root, clean + '.ts'))
}

t.test('every path named in a comment exists', async (t) => {
  const missing: string[] = []
  let named = 0
  for (const file of DIRS.flatMap((d) => files(path.join(root, d)))) {
    const text = comments(readFileSync(file, 'utf8'), file.endsWith('.sh')).replace(/https?:\/\/\S+/g, '')
    for (const m of text.matchAll(PATH)) {
      for (const p of expand(m[0])) {
        named++
        if (!exists(file, p)) missing.push(`${path.relative(root, file)}: ${p}`)
      }
    }
  }
  t.ok(named > 50, `paths were found in comments (${named})`)
  t.same(missing, [], 'no comment names a file that is not there')
})

/** Files a reader is told to create, which the repository therefore does not hold. */
const TO_BE_CREATED = new Set([
  'examples/swarm/symphony-admin-token' // docs/past-one-host.md: `printf %s "$SYMPHONY_ADMIN_TOKEN" > …`
])

/** A path with `*` matches at least one file of its folder. */
function globExists (p: string): boolean {
  const dir = path.join(root, path.dirname(p))
  const re = new RegExp('^' + path.basename(p).split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$')
  return existsSync(dir) && readdirSync(dir).some((f) => re.test(f))
}

// The docs' figures name the results file they come from (bench/results/…), and their claims
// the test or script that checks them: every such path must exist, or the claim has no source.
t.test('every repository path named in README.md and docs/ exists (bench/results/… included)', async (t) => {
  const docs = ['README.md', 'bench/README.md', ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
  const DOC_PATH = /(?<![\w./-])(?:\.\.\/)*(?:src|test|bench|scripts|workers|docs|examples|grafana|bin|\.ci)\/[\w./{},*-]*[\w}*/]/g
  const missing: string[] = []
  let results = 0
  for (const doc of docs) {
    const text = readFileSync(path.join(root, doc), 'utf8').replace(/https?:\/\/\S+/g, '')
    for (const m of text.matchAll(DOC_PATH)) {
      for (const p of expand(m[0].replace(/^(\.\.\/)+/, '').replace(/[./]+$/, ''))) {
        if (/\/[A-Z]+(\.|$)/.test(p) || TO_BE_CREATED.has(p)) continue // a placeholder in capitals (NAME in bench/README.md)
        if (p.startsWith('bench/results/')) results++
        const ok = p.includes('*') ? globExists(p) : existsSync(path.join(root, p)) || existsSync(path.join(root, p + '.ts'))
        if (!ok) missing.push(`${doc}: ${p}`)
      }
    }
  }
  t.ok(results > 10, `results files were cited (${results})`)
  t.same(missing, [], 'no doc names a file that is not there')
})
