/**
 * One certificate and its key, read and checked by node:crypto in the main thread: the files
 * parse, the key belongs to the certificate, and which names and expiry it has. A proxy thread's
 * uWS only ever loads what passed here (src/tls/certificate-set.ts).
 */
import { readFileSync } from 'node:fs'
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { CertificateFileError, CertificateKeyMismatchError } from '../errors'

/** Where a certificate and its key are read from (the user's files, or ACME's). */
export interface CertificateSource {
  readonly certFile: string
  readonly keyFile: string
}

/** A pair that passed every check, with the PEM text exactly as checked. */
export interface CheckedCertificate extends CertificateSource {
  readonly certPem: Buffer
  readonly keyPem: Buffer
  /** DNS names from the subjectAltName, or the subject's CN when there is none. */
  readonly names: readonly string[]
  /** Epoch ms after which the certificate is no longer valid. */
  readonly notAfter: number
  /** SHA-256 fingerprint of the leaf, to tell whether a reload changed anything. */
  readonly fingerprint: string
}

/**
 * Reads and checks one pair.
 * @throws CertificateFileError (exit 9) for a file missing, unreadable or not parseable;
 *   CertificateKeyMismatchError (exit 10) for a key that is not the certificate's.
 */
export function readCertificate (source: CertificateSource): CheckedCertificate {
  const { certFile, keyFile } = source
  const certPem = readPem(certFile, 'certificate', '--tls-cert')
  const keyPem = readPem(keyFile, 'private key', '--tls-key')
  let cert: X509Certificate
  try {
    cert = new X509Certificate(certPem)
  } catch (err) {
    throw new CertificateFileError(`certificate file ${show(certFile)} is not a PEM certificate (${firstLine(err)}); give --tls-cert a PEM file that starts with -----BEGIN CERTIFICATE-----`, { cause: err })
  }
  let key: KeyObject
  try {
    key = createPrivateKey(keyPem)
  } catch (err) {
    throw new CertificateFileError(`key file ${show(keyFile)} is not an unencrypted PEM private key (${firstLine(err)}); give --tls-key the key the certificate was issued for, without a passphrase`, { cause: err })
  }
  if (!cert.checkPrivateKey(key)) {
    throw new CertificateKeyMismatchError(`key file ${show(keyFile)} does not belong to certificate ${show(certFile)}; pair each --tls-cert with its own --tls-key, in the same order`)
  }
  return { certFile, keyFile, certPem, keyPem, names: certificateNames(cert), notAfter: Date.parse(cert.validTo), fingerprint: cert.fingerprint256 }
}

/** The DNS names a certificate is valid for: SAN DNS entries, else the CN (RFC 6125 6.4.4). */
export function certificateNames (cert: X509Certificate): string[] {
  const san = cert.subjectAltName
  if (san !== undefined) {
    const dns = san.split(', ').filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4).toLowerCase())
    if (dns.length > 0) return [...new Set(dns)]
  }
  const cn = /^CN=(.+)$/m.exec(cert.subject)
  return cn === null ? [] : [cn[1].toLowerCase()]
}

function readPem (file: string, what: string, flag: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM' ? 'cannot be read (permission denied)' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${firstLine(err)})`
    throw new CertificateFileError(`${what} file ${show(file)} ${why}; check ${flag}`, { cause: err })
  }
}

function show (file: string): string {
  return JSON.stringify(file)
}

function firstLine (err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]
}
