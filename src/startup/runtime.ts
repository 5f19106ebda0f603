import type { Config } from '../config/types'
import type { Logger } from '../log'
import { DockerRuntime } from '../runtime/docker'
import { ProcessRuntime } from '../runtime/process'
import { SwarmRuntime } from '../runtime/swarm'
import type { Runtime } from '../runtime/types'

/** The runtime the configuration asks for, or null for static backends. */
function createRuntime (config: Config, log: Logger): Runtime | null {
  if (config.runtime === 'process') {
    return new ProcessRuntime({ service: config.service, env: config.env, command: config.command ?? '' })
  }
  if (config.image === null) return null
  if (config.runtime === 'swarm') {
    // checkConfig() guarantees --network with --runtime swarm.
    return new SwarmRuntime({ ...config, image: config.image, network: config.network ?? '' }, { log })
  }
  // The engine address comes from DOCKER_HOST or the default socket, as with the docker CLI.
  return new DockerRuntime({ ...config, image: config.image }, { log })
}

/**
 * Start-up step 1: the runtime, initialised (engine reachable, image present), or null for
 * static backends. A failed init closes it again before the error propagates.
 */
export async function openRuntime (config: Config, log: Logger): Promise<Runtime | null> {
  const runtime = createRuntime(config, log)
  if (runtime === null) return null
  try {
    // DockerUnavailableError / ImageUnavailableError: the CLI prints them as one line.
    await runtime.init()
  } catch (err) {
    await runtime.close().catch(() => {})
    throw err
  }
  return runtime
}
