/**
 * One ACME order (RFC 8555) for one name over HTTP-01, by acme-client: the protocol is the
 * library's; symphony only supplies the keys, the challenge files and the CA to trust.
 */
import { Agent } from 'node:https'
import type * as AcmeModule from 'acme-client'
import type { AcmeStore } from './store'

export interface AcmeClientOptions {
  readonly directoryUrl: string
  /** Contact address for the account (expiry notices from the CA); null = none. */
  readonly email: string | null
  /** PEM of a CA to trust for the directory's HTTPS besides the system's (--acme-ca-file); null = none. */
  readonly ca: Buffer | null
}

/** Orders certificates; one instance per directory, holding the account. */
export class AcmeOrderer {
  private client: AcmeModule.Client | null = null

  constructor (private readonly options: AcmeClientOptions, private readonly store: AcmeStore) {
    if (options.ca !== null) {
      // acme-client sends every request through its own axios instance (acme.axios): the CA is
      // trusted there only, not process-wide as NODE_EXTRA_CA_CERTS would.
      acmeClient().axios.defaults.httpsAgent = new Agent({ ca: options.ca, keepAlive: false })
    }
  }

  /**
   * Orders a certificate for `name`, its key kept by the store, answering HTTP-01 with a file
   * in the store's challenge directory, which the proxy threads serve on --http-port.
   * @returns the chain (PEM, leaf first).
   * @throws Error with the ACME server's reason when the order fails.
   */
  async order (name: string): Promise<string> {
    const client = this.account()
    const [, csr] = await acmeClient().crypto.createCsr({ commonName: name, altNames: [name] }, this.store.certificateKey(name))
    const chain = await client.auto({
      csr,
      email: this.options.email ?? undefined,
      // Using --acme-domain is agreeing to the CA's terms (docs/https.md), as with Caddy and Traefik.
      termsOfServiceAgreed: true,
      // acme-client would first fetch the challenge itself through the system's DNS and port 80;
      // the CA's own validation is the one that counts, and reports why it failed.
      skipChallengeVerification: true,
      challengePriority: ['http-01'],
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => { this.store.putChallenge(challenge.token, keyAuthorization) },
      challengeRemoveFn: async (_authz, challenge) => { this.store.removeChallenge(challenge.token) }
    })
    const url = client.getAccountUrl()
    if (url !== this.store.accountUrl()) this.store.saveAccountUrl(url)
    return chain
  }

  private account (): AcmeModule.Client {
    this.client ??= new (acmeClient().Client)({
      directoryUrl: this.options.directoryUrl,
      accountKey: this.store.accountKey(),
      accountUrl: this.store.accountUrl() ?? undefined,
      // Polling an order or challenge: 1 s, doubling to 10 s, 10 times (about a minute in all).
      backoffAttempts: 10,
      backoffMin: 1000,
      backoffMax: 10_000
    })
    return this.client
  }
}

/** The reason of a failed order in one line (the ACME problem's detail where the server gave one). */
export function orderFailureReason (err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.replace(/\s*\n\s*/g, ' ').slice(0, 500)
}

/**
 * acme-client, loaded on first use: it takes about a second to load (axios and its crypto), which
 * every start without --acme-domain (and every test that starts a gateway) would pay otherwise.
 */
function acmeClient (): typeof AcmeModule {
  return require('acme-client') as typeof AcmeModule
}
