/** The configuration module: one schema, loaded once at start-up, frozen, passed down. */
export type { Config, LogFormat, LogLevel, ProxySettings, RuntimeKind, StaticBackend } from './types'
export { proxySettings } from './proxy-settings'
export { loadConfig, type LoadOptions, type LoadResult } from './load'
export { OPTIONS, GROUPS, envName, optionByFlag, type OptionSpec, type OptionDef, type OptionKind, type OptionGroup } from './schema'
export { renderHelp, renderOptionsMarkdown, renderVersion } from './help'
export { serviceFromImage } from './checks'
export { formatDuration, formatSize } from './parse-values'
