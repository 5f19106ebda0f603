/**
 * ACME's files under --state-dir: the account key, and per name the certificate and its key.
 *
 *   <state-dir>/acme/<directory host>/account-key.pem        0600
 *   <state-dir>/acme/<directory host>/account.json           the account URL, for the next start
 *   <state-dir>/acme/<directory host>/certificates/<name>/key.pem   0600
 *   <state-dir>/acme/<directory host>/certificates/<name>/cert.pem  the chain, leaf first
 *   <state-dir>/acme/challenges/<token>                      HTTP-01 answers the proxy threads serve
 *
 * Kept per directory host, so that a staging account or certificate never serves in production.
 * Every file is written whole to a temporary name and renamed into place: a crash or a reader
 * (the certificate set's file watch) never sees half a file.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs'
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import { StateDirError } from '../../errors'
import type { StoredCertificateInfo } from './policy'
import { isPlaceholder } from './placeholder'

/** Where a name's certificate and key live. */
export interface CertificatePaths {
  readonly certFile: string
  readonly keyFile: string
}

export class AcmeStore {
  /** Where the proxy threads read HTTP-01 answers from (ThreadTls.acmeChallengeDir). */
  readonly challengeDir: string
  private readonly accountDir: string

  /**
   * Creates the directories (0700) and proves them writable.
   * @throws StateDirError (exit 11) when the state directory cannot be created or written.
   */
  constructor (readonly stateDir: string, directoryUrl: string) {
    this.challengeDir = join(stateDir, 'acme', 'challenges')
    this.accountDir = join(stateDir, 'acme', directoryKey(directoryUrl))
    for (const dir of [this.challengeDir, join(this.accountDir, 'certificates')]) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 })
        const probe = join(dir, `.probe-${process.pid}`)
        writeAtomic(probe, 'ok', 0o600)
        rmSync(probe)
      } catch (err) {
        throw new StateDirError(`--state-dir ${JSON.stringify(stateDir)}: cannot create or write ${JSON.stringify(dir)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); make it writable for this user or give another --state-dir`, { cause: err })
      }
    }
  }

  /** The account key, made (ECDSA P-256) and stored on first use. */
  accountKey (): Buffer {
    return readOrCreateKey(join(this.accountDir, 'account-key.pem'))
  }

  /** The account URL the server gave last time, if any (saves a lookup; any key finds it anyway). */
  accountUrl (): string | null {
    try {
      const parsed = JSON.parse(readFileSync(join(this.accountDir, 'account.json'), 'utf8')) as { url?: unknown }
      return typeof parsed.url === 'string' ? parsed.url : null
    } catch {
      return null
    }
  }

  saveAccountUrl (url: string): void {
    writeAtomic(join(this.accountDir, 'account.json'), JSON.stringify({ url }) + '\n', 0o600)
  }

  paths (name: string): CertificatePaths {
    const dir = join(this.accountDir, 'certificates', name)
    return { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') }
  }

  /**
   * The name's certificate key, made and stored on first use. It is kept across renewals (as
   * certbot's --reuse-key): the certificate file is then the one file a renewal replaces, in one
   * rename, so the certificate set never reads a new certificate beside an old key.
   */
  certificateKey (name: string): Buffer {
    const { keyFile } = this.paths(name)
    mkdirSync(join(keyFile, '..'), { recursive: true, mode: 0o700 })
    return readOrCreateKey(keyFile)
  }

  /**
   * What is on disk for `name`, or null when there is no readable certificate, or its key is
   * missing or not the certificate's (the certificate set would refuse the pair).
   */
  stored (name: string): StoredCertificateInfo | null {
    try {
      const { certFile, keyFile } = this.paths(name)
      const cert = new X509Certificate(readFileSync(certFile))
      if (!cert.checkPrivateKey(createPrivateKey(readFileSync(keyFile)))) return null
      return { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo), names: dnsNames(cert), placeholder: isPlaceholder(cert) }
    } catch {
      return null
    }
  }

  /** Store an issued (or placeholder) chain for `name`, whole or not at all. */
  saveCertificate (name: string, chainPem: string): void {
    writeAtomic(this.paths(name).certFile, chainPem, 0o644)
  }

  /** Write an HTTP-01 answer where the proxy threads serve it. */
  putChallenge (token: string, keyAuthorization: string): void {
    writeAtomic(join(this.challengeDir, checkedToken(token)), keyAuthorization, 0o644)
  }

  removeChallenge (token: string): void {
    rmSync(join(this.challengeDir, checkedToken(token)), { force: true })
  }
}

/** The DNS names of a certificate's subjectAltName, lowercase. */
export function dnsNames (cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4).toLowerCase())
}

/** `https://acme-v02.api.letsencrypt.org/directory` → `acme-v02.api.letsencrypt.org`. */
function directoryKey (url: string): string {
  const u = new URL(url)
  return (u.port === '' ? u.hostname : `${u.hostname}-${u.port}`).replace(/[^A-Za-z0-9.-]/g, '_')
}

/** RFC 8555 8.3: a token is base64url; anything else could name a path outside the directory. */
function checkedToken (token: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new Error(`ACME token ${JSON.stringify(token)} is not base64url`)
  return token
}

function readOrCreateKey (file: string): Buffer {
  try {
    return readFileSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  writeAtomic(file, pem, 0o600)
  return Buffer.from(pem)
}

/**
 * Write `data` to a temporary file beside `file` (created with `mode`, so a key is never
 * readable by others, not even for a moment), flush it, and rename it over `file`.
 */
export function writeAtomic (file: string, data: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
  const fd = openSync(tmp, 'wx', mode)
  try {
    writeSync(fd, data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    renameSync(tmp, file)
  } catch (err) {
    rmSync(tmp, { force: true })
    throw err
  }
}
