import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A test CA made with openssl in a temporary folder, and leaf certificates it signs. */
export interface TestPki {
  readonly dir: string
  /** The CA certificate (PEM), for clients' `ca`. */
  readonly ca: Buffer
  /**
   * A P-256 leaf for `names` (SAN DNS entries; the first is also the CN), written to
   * `<dir>/<file>.pem` and `<dir>/<file>.key`; `days` < 0 makes one that has expired.
   * With `san: false` the names go only in the CN (one name).
   */
  leaf: (file: string, names: readonly string[], opts?: { days?: number, san?: boolean }) => { cert: string, key: string }
  close: () => void
}

function openssl (args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** openssl's time format for `ca -startdate/-enddate`: YYYYMMDDHHMMSSZ. */
function asn1Time (ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'
}

/**
 * A leaf whose validity ended `-days` days ago (it began a day before that). `openssl x509 -days`
 * with a negative count worked on OpenSSL 3.0 (Debian 12) but is refused by 3.5 (Debian 13: "end
 * date before start date"), and `x509 -not_after` is 3.4's; `openssl ca` takes explicit dates on
 * both, with a throwaway database in the PKI's folder.
 */
function expiredLeaf (dir: string, csr: string, cert: string, ext: string, days: number, serial: number): void {
  const end = Date.now() + days * 86_400_000
  writeFileSync(join(dir, 'index.txt'), '')
  writeFileSync(join(dir, 'ca.cnf'), '[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\nnew_certs_dir = .\ndefault_md = sha256\nserial = serial\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n')
  writeFileSync(join(dir, 'serial'), serial.toString(16).padStart(2, '0') + '\n')
  openssl(['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', csr, '-out', cert, '-notext',
    '-startdate', asn1Time(end - 86_400_000), '-enddate', asn1Time(end), '-extfile', ext], dir)
}

export function makePki (): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'symphony-pki-'))
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=symphony test CA'], dir)
  let serial = 1
  return {
    dir,
    ca: readFileSync(join(dir, 'ca.pem')),
    leaf (file, names, opts = {}) {
      const key = join(dir, `${file}.key`)
      const cert = join(dir, `${file}.pem`)
      const csr = join(dir, `${file}.csr`)
      openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${names[0]}`], dir)
      const ext = join(dir, `${file}.ext`)
      writeFileSync(ext, opts.san === false ? 'basicConstraints=CA:FALSE\n' : `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`)
      const days = opts.days ?? 2
      if (days > 0) openssl(['x509', '-req', '-in', csr, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(serial++), '-out', cert, '-days', String(days), '-extfile', ext], dir)
      else expiredLeaf(dir, csr, cert, ext, days, serial++)
      return { cert, key }
    },
    close () { rmSync(dir, { recursive: true, force: true }) }
  }
}
