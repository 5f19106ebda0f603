/**
 * The rules between the ACME options (docs/https.md): HTTP-01 needs --http-port, the other ACME
 * options need a name to act on, and names are compared lowercase.
 */
import { ConfigError } from '../errors'
import type { Config } from './types'

type Mutable = { -readonly [K in keyof Config]: Config[K] }

/** @throws ConfigError */
export function checkAcme (c: Mutable, name: (key: keyof Config) => string, show: (key: keyof Config) => string): void {
  const domains = c.acmeDomains.map((d) => d.toLowerCase())
  const twice = domains.find((d, i) => domains.indexOf(d) !== i)
  if (twice !== undefined) throw new ConfigError(`${name('acmeDomains')} ${JSON.stringify(twice)} given twice; give each name once`)
  c.acmeDomains = domains
  if (domains.length === 0) {
    for (const key of ['acmeEmail', 'acmeCaFile'] as const) {
      if (c[key] !== null) throw new ConfigError(`${show(key)} does nothing without --acme-domain NAME; add the names to get certificates for, or drop it`)
    }
    if (c.acmeDirectory !== 'https://acme-v02.api.letsencrypt.org/directory') throw new ConfigError(`${show('acmeDirectory')} does nothing without --acme-domain NAME; add the names to get certificates for, or drop it`)
    return
  }
  if (c.httpPort === null) {
    throw new ConfigError(`${name('acmeDomains')} gets certificates over ACME's HTTP-01 challenge, which needs a plain-HTTP listener: add --http-port PORT (port 80 as the CA sees it)`)
  }
}
