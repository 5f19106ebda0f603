import { PROXY_SETTING_KEYS, type Config, type ProxySettings } from './types'

/**
 * The proxy threads' settings out of the whole configuration, as a small plain object: it is
 * copied (structured clone) into every thread's serve task, which needs none of the rest.
 */
export function proxySettings (config: Config): ProxySettings {
  const out: Partial<Record<keyof ProxySettings, unknown>> = {}
  for (const key of PROXY_SETTING_KEYS) out[key] = config[key]
  return out as ProxySettings
}
