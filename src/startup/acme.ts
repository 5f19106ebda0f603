/**
 * Start-up of ACME (docs/https.md), in two steps: `openAcme` before anything is started (a state
 * directory that cannot be written is exit 11, an unreadable --acme-ca-file exit 2, and nothing
 * is left behind), and `prepareAcme` once the certificate set exists, which hands every name's
 * pair to it; the composition root starts the orders once the threads listen.
 */
import { readFileSync } from 'node:fs'
import type { Config } from '../config/types'
import { ConfigError } from '../errors'
import type { Logger } from '../log'
import { AcmeOrderer } from '../tls/acme/client'
import { AcmeManager, type CertificateSink } from '../tls/acme/manager'
import { AcmeStore } from '../tls/acme/store'

export interface AcmeParts {
  readonly store: AcmeStore
  readonly orderer: AcmeOrderer
  /** Where the proxy threads find HTTP-01 answers (ThreadTls.acmeChallengeDir). */
  readonly challengeDir: string
}

/**
 * The state directory and the account's client; null without --acme-domain.
 * @throws StateDirError (exit 11), ConfigError (exit 2) for an --acme-ca-file that cannot be read.
 */
export function openAcme (config: Config): AcmeParts | null {
  if (config.acmeDomains.length === 0) return null
  let ca: Buffer | null = null
  if (config.acmeCaFile !== null) {
    try {
      ca = readFileSync(config.acmeCaFile)
    } catch (err) {
      throw new ConfigError(`--acme-ca-file ${JSON.stringify(config.acmeCaFile)} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); give a PEM CA certificate file`, { cause: err })
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`--acme-ca-file ${JSON.stringify(config.acmeCaFile)} is not a PEM certificate; give a file that starts with -----BEGIN CERTIFICATE-----`)
  }
  const store = new AcmeStore(config.stateDir, config.acmeDirectory)
  const orderer = new AcmeOrderer({ directoryUrl: config.acmeDirectory, email: config.acmeEmail, ca }, store)
  return { store, orderer, challengeDir: store.challengeDir }
}

/**
 * Hands each name's pair (stored, or a placeholder) to `sink`; the orders start with
 * `begin()`, once --http-port listens to answer their challenges.
 */
export async function prepareAcme (config: Config, parts: AcmeParts, sink: CertificateSink, log: Logger): Promise<AcmeManager> {
  const manager = new AcmeManager({ domains: config.acmeDomains, store: parts.store, orderer: parts.orderer, sink, log })
  await manager.serveStored()
  return manager
}
