/**
 * The `symphony` command (bin/symphony.js): load the configuration, then hand over to
 * `run(config)`. A user's mistake is one line on stderr and a documented exit code; only a bug
 * prints a stack trace (exit 70, EX_SOFTWARE in sysexits.h).
 */
import { SymphonyError } from './errors'
import { loadConfig, type LoadResult } from './config/load'
import { loadUws } from './uws/load'

const EX_SOFTWARE = 70

/**
 * Runs the CLI with `argv` (without node and script). Never rejects: every failure ends as a
 * message on stderr and an exit status.
 */
export async function main (argv: string[]): Promise<void> {
  if (argv[0] === 'deploy') return await deployCommand(argv.slice(1))
  // `symphony remove [options]`: the same options as the gateway it follows (src/remove/command.ts).
  const remove = argv[0] === 'remove'
  let result: LoadResult
  try {
    result = loadConfig(remove ? argv.slice(1) : argv, process.env)
  } catch (err) {
    // Nothing is running yet: set the status and let the process end on its own, which also
    // lets stdout/stderr flush when they are pipes.
    process.exitCode = report(err)
    return
  }
  if ('help' in result) {
    process.stdout.write(result.help)
    return
  }
  if ('version' in result) {
    process.stdout.write(`${result.version}, Node ${process.version}, ${uwsVersion()}\n`)
    return
  }

  if (remove) {
    try {
      const { runRemove } = await import('./remove/command')
      await runRemove(result.config, (line) => { process.stdout.write(`${line}\n`) })
    } catch (err) {
      process.exitCode = report(err)
    }
    return
  }

  try {
    // Before any thread starts or Docker is asked anything: where no native uWebSockets.js build
    // loads, this is one line and exit 7 (UnsupportedRuntimeError), never the JS emulation.
    loadUws()
  } catch (err) {
    process.exitCode = report(err)
    return
  }

  try {
    const { run } = await import('./composition-root')
    await run(result.config)
  } catch (err) {
    // Listeners or timers may be open after a failed start: exit rather than hang.
    process.exit(report(err))
  }
}

/** `symphony deploy IMAGE …` (src/deploy/command.ts): a client of a running symphony's admin API. */
async function deployCommand (argv: string[]): Promise<void> {
  const { DEPLOY_USAGE, deploy, parseDeployArgs } = await import('./deploy/command')
  try {
    const args = parseDeployArgs(argv, process.env)
    if (args === 'help') {
      process.stdout.write(DEPLOY_USAGE)
      return
    }
    await deploy(args, (line) => process.stdout.write(`${line}\n`))
  } catch (err) {
    process.exitCode = report(err)
  }
}

/** The uWS part of --version: the build in use, or that none loads here and why. */
function uwsVersion (): string {
  try {
    return `uWebSockets.js ${loadUws().runtime.build} (native)`
  } catch (err) {
    return `uWebSockets.js: none loads here (${err instanceof SymphonyError ? err.message.replace(/^cannot start: /, '') : String(err)})`
  }
}

/** Prints `err` the way its kind deserves and returns the exit status. */
function report (err: unknown): number {
  if (err instanceof SymphonyError && err.exitCode !== null) {
    process.stderr.write(`symphony: ${err.message.replace(/\s*\n\s*/g, ' ')}\n`)
    return err.exitCode
  }
  process.stderr.write(`symphony: internal error (please report it):\n${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  return EX_SOFTWARE
}
