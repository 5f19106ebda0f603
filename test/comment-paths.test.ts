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
