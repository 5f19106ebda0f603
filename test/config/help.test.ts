import t from 'tap'
import { defaultText, renderHelp, renderOptionsMarkdown, renderVersion, usageOf } from '../../src/config/help'
import { GROUPS, OPTIONS, envName, isDerived } from '../../src/config/schema'

t.test('schema: unique names, derived env names, known groups', async t => {
  const flags = OPTIONS.map(o => o.flag)
  t.equal(new Set(flags).size, flags.length, 'flags are unique')
  const keys = OPTIONS.flatMap(o => o.key === null ? [] : [o.key])
  t.equal(new Set(keys).size, keys.length, 'Config keys are unique')
  for (const o of OPTIONS) {
    t.match(o.flag, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, `${o.flag} is kebab-case`)
    t.equal(o.env, `SYMPHONY_${o.flag.toUpperCase().replace(/-/g, '_')}`, `${o.flag}: env name derived`)
    t.equal(o.env, envName(o.flag))
    t.equal(o.snake, o.flag.replace(/-/g, '_'))
    t.ok(GROUPS.some(([g]) => g === o.group), `${o.flag}: known group`)
    t.ok(o.help.length > 0 && !o.help.includes('\n'), `${o.flag}: one-line help`)
    if (o.kind === 'enum') t.ok(o.values !== undefined && o.values.length > 1, `${o.flag}: enum has choices`)
  }
  t.ok(Object.isFrozen(OPTIONS) && OPTIONS.every(o => Object.isFrozen(o)), 'the table is frozen')
})

t.test('help lists every option with its kind, default and env name', async t => {
  const help = renderHelp()
  t.match(help, /^Usage: symphony --image IMAGE \[options\]/)
  t.ok(help.endsWith('\n'))
  // Each group is a paragraph whose first line is its title.
  const sections = new Map(help.split('\n\n').map(p => [p.split('\n')[0], p]))
  for (const o of OPTIONS) {
    const title = GROUPS.find(([g]) => g === o.group)?.[1] ?? ''
    const section = `${sections.get(`${title}:`) ?? ''}\n`
    const at = section.indexOf(`  ${usageOf(o)}`)
    t.ok(at >= 0, `${usageOf(o)} listed under ${title}`)
    // The option's own lines end with its [default: …] [env: …] line.
    const own = section.slice(at, section.indexOf('\n', section.indexOf('[env: ', at)))
    t.ok(own.includes(`[default: ${defaultText(o)}] [env: ${o.env}]`), `${o.flag}: default ${defaultText(o)}, env ${o.env}`)
  }
  t.match(help, /--base-scale-count N\s+.*\n\s+\[default: 20\] \[env: SYMPHONY_BASE_SCALE_COUNT\]/)
  t.match(help, /--window DURATION\s+.*\n\s+\[default: 120s\]/)
  t.match(help, /--max-body-size SIZE\s+.*\n\s+\[default: 1gb\]/)
  t.match(help, /--runtime docker\|process/)
  t.match(help, /--cleanup-on-exit\s{2,}Remove/, 'a boolean flag has no placeholder')
  t.match(help, /-h, --help/)
  t.match(help, /--version/)
  t.same([...sections.keys()].filter(k => k.endsWith(':')), GROUPS.map(([, title]) => `${title}:`), 'groups in order')
})

t.test('defaults as shown', async t => {
  const shown = Object.fromEntries(OPTIONS.map(o => [o.flag, defaultText(o)]))
  t.equal(shown.image, 'none')
  t.equal(shown.backend, 'none')
  t.equal(shown['health-timeout'], '80% of --fault-interval')
  t.equal(shown.threads, 'CPU count, at most 64')
  t.equal(shown['cleanup-on-exit'], 'false')
  t.equal(shown['max-connections'], 'half of (open-file limit - 256 - 8 per thread)')
  t.ok(OPTIONS.filter(o => isDerived(o.default)).length === 4, 'four derived defaults')
})

t.test('markdown table', async t => {
  const md = renderOptionsMarkdown()
  for (const [, title] of GROUPS) t.match(md, `**${title}**\n\n| Option | Environment | Default | Description |\n|---|---|---|---|\n`)
  for (const o of OPTIONS) {
    const row = md.split('\n').find(line => line.startsWith(`| \`--${o.flag}`))
    t.ok(row, `${o.flag} has a row`)
    t.ok(row?.includes(`\`${o.env}\``), `${o.flag}: env`)
    t.equal(row?.replace(/\\\|/g, '').split('|').length, 6, `${o.flag}: four cells (pipes escaped)`)
  }
  t.match(md, /\| `--runtime docker\\\|process\\\|swarm` \| `SYMPHONY_RUNTIME` \| `docker` \|/)
  t.match(md, /\| `--health-timeout DURATION` \| `SYMPHONY_HEALTH_TIMEOUT` \| 80% of --fault-interval \|/)
  t.match(md, /\| `--image IMAGE` \| `SYMPHONY_IMAGE` \| none \|/)
})

t.test('version', async t => {
  t.match(renderVersion(), /^symphony \d+\.\d+\.\d+/)
})
