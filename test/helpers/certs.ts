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
      openssl(['x509', '-req', '-in', csr, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(serial++), '-out', cert, '-days', String(opts.days ?? 2), '-extfile', ext], dir)
      return { cert, key }
    },
    close () { rmSync(dir, { recursive: true, force: true }) }
  }
}
