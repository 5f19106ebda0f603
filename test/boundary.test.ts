import t from 'tap'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'

/**
 * The thread boundary, read from the tree. Code under src/worker/ runs inside the proxy threads:
 * it may use only src/worker/, src/table/ (the shared memory), src/errors.ts, src/log.ts, src/uws/,
 * src/idle-policy.ts (when a thread gives memory back: both kinds of thread follow it), and types
 * from src/config/types.ts, plus node built-ins. src/uws/ is shared on purpose: it is
 * the one place that chooses and loads the native uWebSockets.js binary (issue #18), and the main
 * thread must load it too, before any thread starts, to refuse a host where none loads; the
 * threads load the binary through it rather than through a package's JS entry, which could swap
 * in uWS's JS emulation (so no uWebSockets.js package may be imported for its value here). Main-
 * thread code may name src/worker/'s types (the supervisor builds tasks and reads messages) but
 * never load it.
 */
const root = path.join(__dirname, '..', '..')
const rel = (p: string): string => path.relative(root, p).split(path.sep).join('/')

interface Import { readonly spec: string, readonly typeOnly: boolean, readonly text: string }

/** Every import, re-export, dynamic import() and require() of a file. */
function importsOf (source: string): Import[] {
  const out: Import[] = []
  for (const m of source.matchAll(/^(?:import|export)\s+(type\s+)?([^'"]*?)\s*from\s+'([^']+)'/gm)) {
    const names = m[2].replace(/^\{|\}$/g, '').split(',').map((s) => s.trim()).filter((s) => s !== '')
    // `import { type A, type B }` is as erased as `import type { A, B }`.
    const allTypes = names.length > 0 && names.every((n) => n.startsWith('type '))
    out.push({ spec: m[3], typeOnly: m[1] !== undefined || allTypes, text: m[0] })
  }
  for (const m of source.matchAll(/^import\s+'([^']+)'/gm)) out.push({ spec: m[1], typeOnly: false, text: m[0] })
  for (const m of source.matchAll(/\b(?:import|require)\(\s*'([^']+)'\s*\)/g)) out.push({ spec: m[1], typeOnly: false, text: m[0] })
  return out
}

/** A relative specifier as a repo path (`src/table/layout.ts`); null for a package. */
function resolve (from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null
  const base = path.join(path.dirname(from), spec)
  for (const candidate of [base + '.ts', path.join(base, 'index.ts'), base]) {
    if (existsSync(candidate)) return rel(candidate)
  }
  return rel(base) + ' (missing)'
}

function tsFiles (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    return e.isDirectory() ? tsFiles(p) : e.name.endsWith('.ts') ? [p] : []
  })
}

const THREAD_MODULES = [/^src\/worker\//, /^src\/table\//, /^src\/uws\//, /^src\/errors\.ts$/, /^src\/log\.ts$/, /^src\/idle-policy\.ts$/]
const THREAD_PACKAGES = [/^node:/]
const TYPES_ONLY = /^src\/config\/types\.ts$/

t.test('what the proxy threads load stays on their side: worker/, table/, uws/, errors.ts, log.ts, idle-policy.ts, config types', async (t) => {
  // Everything a thread loads, following value imports from its entry and from src/worker/.
  const entries = [path.join(root, 'workers', 'proxy.ts'), ...tsFiles(path.join(root, 'src', 'worker')), ...tsFiles(path.join(root, 'src', 'uws'))]
  const seen = new Set<string>()
  const queue = [...entries]
  const wrong: string[] = []
  while (queue.length > 0) {
    const file = queue.pop() as string
    const name = rel(file)
    if (seen.has(name)) continue
    seen.add(name)
    for (const imp of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolve(file, imp.spec)
      if (target === null) {
        if (!imp.typeOnly && !THREAD_PACKAGES.some((re) => re.test(imp.spec))) wrong.push(`${name}: package ${imp.spec} in a proxy thread`)
        continue
      }
      if (imp.typeOnly && (TYPES_ONLY.test(target) || THREAD_MODULES.some((re) => re.test(target)))) continue
      if (name === 'workers/proxy.ts' && target === 'src/worker/serve.ts') { queue.push(path.join(root, target)); continue }
      if (!THREAD_MODULES.some((re) => re.test(target))) {
        wrong.push(`${name}: ${imp.typeOnly ? 'type import' : 'import'} of ${target}`)
        continue
      }
      queue.push(path.join(root, target))
    }
  }
  t.ok(seen.has('src/worker/serve.ts') && seen.has('src/table/reader.ts') && seen.has('src/uws/load.ts'), 'the walk reached the thread\'s modules')
  t.same(wrong, [], 'no import crosses into the main thread\'s code')
})

t.test('main-thread code names src/worker/ only through `import type`', async (t) => {
  const wrong: string[] = []
  let typeImports = 0
  for (const file of tsFiles(path.join(root, 'src'))) {
    const name = rel(file)
    if (name.startsWith('src/worker/')) continue
    for (const imp of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolve(file, imp.spec)
      if (target === null || !target.startsWith('src/worker/')) continue
      if (imp.typeOnly) typeImports++
      else wrong.push(`${name}: ${imp.text.replace(/\s+/g, ' ')}`)
    }
  }
  t.ok(typeImports > 0, 'the supervisor\'s type imports were seen (the scan works)')
  t.same(wrong, [], 'no value import of src/worker/ from the main thread')
})

t.test('uWebSockets.js is loaded only through src/uws/ (never a package\'s JS entry, which may load the emulation)', async (t) => {
  const wrong: string[] = []
  let scanned = 0
  for (const dir of ['src', 'test', 'bench', 'workers']) {
    for (const file of tsFiles(path.join(root, dir))) {
      scanned++
      for (const imp of importsOf(readFileSync(file, 'utf8'))) {
        if (!imp.typeOnly && /^(uWebSockets\.js|@btc-vision\/uwebsockets\.js)(\/|$)/.test(imp.spec)) wrong.push(`${rel(file)}: ${imp.text}`)
      }
    }
  }
  t.ok(scanned > 100, `the scan read the tree (${scanned} files)`)
  t.same(wrong, [], 'no value import of a uWS package')
})

t.test('the import scanner tells type-only imports from value imports', async (t) => {
  const found = importsOf([
    "import type { A } from './a'",
    "import { type B, type C } from './b'",
    "import { type D, E } from './c'",
    'import {\n  F,\n  G\n} from \'./d\'',
    "export { H } from './e'",
    "const m = await import('./f')"
  ].join('\n'))
  t.same(found.map((i) => [i.spec, i.typeOnly]), [['./a', true], ['./b', true], ['./c', false], ['./d', false], ['./e', false], ['./f', false]])
})
