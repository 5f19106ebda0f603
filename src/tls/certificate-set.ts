/**
 * The main thread's certificate set: every pair symphony serves (--tls-cert/--tls-key, and ACME's
 * once issued), checked by node:crypto (src/tls/certificate.ts), and copied into a private
 * directory that the proxy threads load from. The threads never read the user's files: a file
 * that changes between the check and uWS's read cannot slip past the check.
 *
 * A reload (a file changed, SIGHUP) reads every pair again. A pair that now fails keeps the
 * certificate in use, says why in one log line, and counts the failure; the rest go on. When
 * anything changed, a new generation of copies is written and `onChange` hands it to the threads
 * (src/gateway/proxy-threads.ts), whose new connections get it; open ones keep theirs.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ServedCertificate } from '../config/types'
import { CertificateFileError, CertificateKeyMismatchError } from '../errors'
import type { Logger } from '../log'
import { readCertificate, type CertificateSource, type CheckedCertificate } from './certificate'
import { FolderWatch } from './watch'

/** Why a reload kept a certificate: its files (missing, unreadable, unparseable) or a key mismatch. */
export type ReloadFailure = 'file' | 'key_mismatch'

export interface CertificateSetOptions {
  readonly log: Logger
  /** Parent of the private copies' directory (the OS's temporary directory by default). */
  readonly dir?: string
  /** Quiet time after a file event before the reload (200 ms). */
  readonly debounceMs?: number
}

export class CertificateSet {
  private readonly sources: CertificateSource[]
  private current: CheckedCertificate[] = []
  private served: ServedCertificate[] = []
  private readonly dir: string
  private generation = 0
  private closed = false
  private readonly watch: FolderWatch
  /** Called with the new certificates after a change (the proxy threads'); the first is the default. */
  onChange: (certificates: readonly ServedCertificate[]) => void = () => {}
  /** Reloads that changed what is served. */
  reloads = 0
  readonly failures: Record<ReloadFailure, number> = { file: 0, key_mismatch: 0 }

  /** Reads and checks every pair (throws exit 9 or 10 on the first that fails; nothing is kept). */
  constructor (sources: readonly CertificateSource[], private readonly options: CertificateSetOptions) {
    this.sources = [...sources]
    this.current = this.sources.map(readCertificate)
    this.dir = mkdtempSync(join(options.dir ?? tmpdir(), 'symphony-tls-'))
    chmodSync(this.dir, 0o700)
    this.publish()
    this.watch = new FolderWatch(() => { this.reload('file changed') }, options.debounceMs ?? 200, (dir, err) => {
      options.log.warn('cannot watch a certificate folder; send SIGHUP after changing its files', { dir, error: err.message })
    })
    this.watch.add(this.files())
  }

  /** What the threads serve now: the checked copies, the default first. */
  certificates (): readonly ServedCertificate[] {
    return this.served
  }

  /** The pairs in use, as checked (names, expiry, fingerprint). */
  get checked (): readonly CheckedCertificate[] {
    return this.current
  }

  /** The user's files, for the file watch (src/tls/watch.ts). */
  files (): string[] {
    return this.sources.flatMap((s) => [s.certFile, s.keyFile])
  }

  /** Per served name, when its certificate expires (epoch ms). A name in two pairs: the first's. */
  expiries (): Map<string, number> {
    const out = new Map<string, number>()
    for (const c of this.current) for (const n of c.names) if (!out.has(n)) out.set(n, c.notAfter)
    return out
  }

  /**
   * Serve one more pair from now on (ACME, once a certificate was issued), and reload it with the
   * others when its files change.
   * @throws CertificateFileError or CertificateKeyMismatchError; nothing changes then.
   */
  add (source: CertificateSource): void {
    const cert = readCertificate(source)
    this.sources.push(source)
    this.current.push(cert)
    this.publish()
    this.watch.add([source.certFile, source.keyFile])
  }

  /** Read every pair again; what changed is served to new connections. Never throws. */
  reload (why: string): void {
    if (this.closed) return
    let changed = false
    this.current = this.current.map((old, i) => {
      let fresh: CheckedCertificate
      try {
        fresh = readCertificate(this.sources[i])
      } catch (err) {
        const reason: ReloadFailure = err instanceof CertificateKeyMismatchError ? 'key_mismatch' : 'file'
        if (!(err instanceof CertificateFileError) && reason === 'file') throw err
        this.failures[reason]++
        this.options.log.error('certificate not reloaded; the one in use stays', { error: (err as Error).message, reason, certFile: old.certFile, trigger: why })
        return old
      }
      if (fresh.fingerprint !== old.fingerprint || !fresh.keyPem.equals(old.keyPem)) changed = true
      return fresh
    })
    if (!changed) return
    this.reloads++
    this.publish()
    this.options.log.info('certificates reloaded: new connections get them, open ones keep theirs', { trigger: why, names: this.served.flatMap((s) => s.names) })
  }

  /** Remove the private copies. Idempotent. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.watch.close()
    rmSync(this.dir, { recursive: true, force: true })
  }

  /**
   * Write a new generation of copies and hand it on. The generation before stays on disk: a
   * thread may still be loading it (threads load when the message arrives); older ones go.
   */
  private publish (): void {
    const gen = ++this.generation
    this.served = this.current.map((c, i) => {
      const certFile = join(this.dir, `g${gen}-${i}-cert.pem`)
      const keyFile = join(this.dir, `g${gen}-${i}-key.pem`)
      writeFileSync(certFile, c.certPem, { mode: 0o600 })
      writeFileSync(keyFile, c.keyPem, { mode: 0o600 })
      return { certFile, keyFile, names: c.names }
    })
    if (gen > 2) {
      for (let i = 0; ; i++) {
        const stale = join(this.dir, `g${gen - 2}-${i}-cert.pem`)
        try { rmSync(stale); rmSync(join(this.dir, `g${gen - 2}-${i}-key.pem`)) } catch { break }
      }
    }
    this.onChange(this.served)
  }
}
