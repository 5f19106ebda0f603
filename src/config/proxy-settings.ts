import type { Config, ProxySettings } from './types'

/**
 * The proxy threads' settings out of the whole configuration, as a small plain object: it is
 * copied (structured clone) into every thread's serve task, which needs none of the rest.
 */
export function proxySettings (config: Config): ProxySettings {
  const { threads, host, port, connectTimeoutMs, responseTimeoutMs, maxBodySize, maxHeaderSize, queueTimeoutMs, queueLimit, replayBodyLimit } = config
  return { threads, host, port, connectTimeoutMs, responseTimeoutMs, maxBodySize, maxHeaderSize, queueTimeoutMs, queueLimit, replayBodyLimit }
}
