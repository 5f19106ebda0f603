import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { loadConfig } from '../src/config/load'

/**
 * The traps a newcomer meets in the deployment docs, checked where the docs can be read:
 * symphony's container must get time to drain before its orchestrator's SIGKILL, and its image
 * has one name, `symphony`, in every command and in the stack file.
 */
const root = path.join(__dirname, '..', '..')
const read = (p: string): string => readFileSync(path.join(root, p), 'utf8')
const docs = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
/** The default drain, plus a margin for closing after it. */
const defaults = loadConfig(['--image', 'my-api'], {})
if (!('config' in defaults)) throw new Error('expected a config')
const needS = defaults.config.drainTimeoutMs / 1000 + 5

/** Shell commands of a markdown file: fenced lines joined across `\` continuations, and inline `code`. */
function commands (text: string): string[] {
  const joined = text.replace(/\\\n\s*/g, ' ')
  return [...joined.split('\n'), ...[...joined.matchAll(/`([^`\n]+)`/g)].map((m) => m[1])]
}

// `symphony remove` in a container mounts the socket too, but drains nothing.
const runsSymphony = (cmd: string): boolean => /\/var\/run\/docker\.sock/.test(cmd) && !/\sremove\s/.test(cmd)

t.test('every `docker service create` and `docker run` of symphony in the docs leaves the drain its time', async (t) => {
  let found = 0
  for (const doc of docs) {
    for (const cmd of commands(read(doc))) {
      const service = /docker service create\b/.test(cmd)
      if (!(service || /docker run\b/.test(cmd)) || !runsSymphony(cmd)) continue
      found++
      const flag = service ? '--stop-grace-period' : '--stop-timeout'
      const m = new RegExp(`${flag}[ =](\\d+)(s?)\\b`).exec(cmd)
      t.ok(m !== null && Number(m[1]) >= needS, `${doc}: ${flag} of at least ${needS} s (Docker's default of 10 s SIGKILLs the drain): ${cmd.slice(0, 120)}`)
    }
  }
  t.ok(found >= 2, `${found} commands found`)
})

t.test('examples/swarm/stack.yml: symphony\'s image is `symphony`, with time to drain', async (t) => {
  const stack = parse(read('examples/swarm/stack.yml')) as { services: Record<string, { image: string, stop_grace_period?: string }> }
  const s = stack.services.symphony
  // An image ID in SYMPHONY_IMAGE (the registry-free path) or, by default, the name the docs build.
  t.equal(s.image, '$' + '{SYMPHONY_IMAGE:-symphony}', 'the name the docs build, or the ID the stack is given')
  t.ok(Number(/^(\d+)s$/.exec(s.stop_grace_period ?? '')?.[1] ?? 0) >= needS, `stop_grace_period ${s.stop_grace_period ?? 'unset'} >= ${needS}s`)
})

t.test('every `docker build` of symphony in the docs names the image `symphony`', async (t) => {
  const names: Array<[string, string]> = []
  for (const doc of [...docs, 'examples/swarm/stack.yml']) {
    // `docker build -t NAME .` or a path to the repository: symphony's own Dockerfile.
    for (const m of read(doc).matchAll(/docker build -t (\S+) (?:\.|\S*docker-symphony)(?:\s|$)/g)) names.push([doc, m[1]])
  }
  t.ok(names.length >= 2, `${names.length} builds found`)
  for (const [doc, name] of names) t.equal(name.replace(/:latest$/, ''), 'symphony', `${doc}: docker build -t ${name}`)
})
