import type { Config, ProxySettings } from './types'

/** The Config fields a proxy thread needs: the one list ProxySettings is made of. */
export const PROXY_SETTING_KEYS = ['threads', 'host', 'port', 'connectTimeoutMs', 'responseTimeoutMs', 'maxBodySize', 'maxHeaderSize', 'queueTimeoutMs', 'queueLimit', 'replayBodyLimit', 'accessLog', 'accessLogFormat'] as const

/**
 * The proxy threads' settings out of the whole configuration, as a small plain object: it is
 * copied (structured clone) into every thread's serve task, which needs none of the rest.
 */
export function proxySettings (config: Config): ProxySettings {
  const out: Partial<Record<keyof ProxySettings, unknown>> = {}
  for (const key of PROXY_SETTING_KEYS) out[key] = config[key]
  return out as ProxySettings
}
