/**
 * The certificate served for an --acme-domain before its first one is issued: self-signed, for
 * the name, with the name's own key (so the issued certificate later replaces only the
 * certificate file). A client that checks certificates refuses it, as it should; the HTTPS
 * listener is up and the name is served as soon as the issued certificate arrives (docs/https.md).
 */
import { webcrypto, createPrivateKey, createPublicKey, type X509Certificate } from 'node:crypto'
import type * as X509Module from '@peculiar/x509'

/** The subject and issuer CN that marks a placeholder (the store recognises it on disk). */
const PLACEHOLDER_CN = 'symphony placeholder - waiting for ACME'

/** Placeholders live a week: a start that cannot reach the CA for longer makes a new one. */
const PLACEHOLDER_LIFETIME_MS = 7 * 24 * 3600_000

/** A self-signed certificate (PEM) for `name`, signed with `keyPem` (an ECDSA P-256 key). */
export async function createPlaceholder (name: string, keyPem: Buffer, now: number): Promise<string> {
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
  const pkcs8 = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' })
  const spki = createPublicKey(keyPem).export({ type: 'spki', format: 'der' })
  const subtle = webcrypto.subtle
  const privateKey = await subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign'])
  const publicKey = await subtle.importKey('spki', spki, algorithm, true, ['verify'])
  // Loaded on first use (about half a second): only a start with --acme-domain and no stored
  // certificate needs it.
  const x509 = require('@peculiar/x509') as typeof X509Module
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(8))).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${PLACEHOLDER_CN}`,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + PLACEHOLDER_LIFETIME_MS),
    keys: { privateKey, publicKey },
    signingAlgorithm: algorithm,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: name }])]
  }, webcrypto as never)
  return cert.toString('pem') + '\n'
}

/** Whether `cert` is one of symphony's placeholders. */
export function isPlaceholder (cert: X509Certificate): boolean {
  return cert.issuer === `CN=${PLACEHOLDER_CN}` && cert.subject === cert.issuer
}
