/**
 * A real ACME server for tests: Debian's `pebble` (apt-get install pebble), started and stopped
 * by the test, with `pebble-challtestsrv` as its DNS server answering 127.0.0.1 for every name,
 * so pebble validates HTTP-01 against whatever listens on 127.0.0.1:`httpPort` (symphony's
 * --http-port). Pebble's own HTTPS certificate is made here with openssl; the certificates it
 * issues chain to a root it makes at each start, exposed on its management port.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Pebble {
  /** The ACME directory URL (https://127.0.0.1:PORT/dir). */
  readonly directoryUrl: string
  /** PEM of the CA pebble's own HTTPS listener uses (for --acme-ca-file). */
  readonly listenerCaFile: string
  /** PEM of the root that issued certificates chain to. */
  issuingRoot (): Promise<string>
  /** Everything pebble printed so far. */
  output (): string
  close (): Promise<void>
}

/** A port free on 127.0.0.1 now (the OS's choice; a test that races for it fails loudly). */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

/**
 * Installs Debian's pebble when it is missing (scripts/pebble.sh: idempotent, needs root, as the
 * Prometheus and nginx tests do); throws with the script's reason when it cannot.
 */
export function ensurePebble (): void {
  execFileSync(join(__dirname, '..', '..', '..', 'scripts', 'pebble.sh'), [], { stdio: ['ignore', 'ignore', 'inherit'] })
}

/** Starts challtestsrv and pebble; pebble validates HTTP-01 on 127.0.0.1:`httpPort`. */
export async function startPebble (httpPort: number): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'symphony-pebble-'))
  const listenerCaFile = join(dir, 'ca.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=pebble test listener', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', join(dir, 'key.pem'), '-out', listenerCaFile], { stdio: 'ignore' })
  const [dnsPort, challMgmt, acmePort, mgmtPort, tlsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()])
  writeFileSync(join(dir, 'pebble.json'), JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: listenerCaFile,
      privateKey: join(dir, 'key.pem'),
      httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false
    }
  }))
  const logs: string[] = []
  const children: ChildProcess[] = []
  const keep = (child: ChildProcess): ChildProcess => {
    children.push(child)
    child.stdout?.on('data', (d: Buffer) => logs.push(d.toString()))
    child.stderr?.on('data', (d: Buffer) => logs.push(d.toString()))
    return child
  }
  // AAAA answers are switched off (-defaultIPv6 ''): the gateway under test listens on IPv4.
  keep(spawn('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-management', `127.0.0.1:${challMgmt}`,
    '-http01', '', '-https01', '', '-tlsalpn01', '', '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''], { stdio: ['ignore', 'pipe', 'pipe'] }))
  keep(spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      // Validate at once instead of after a random 0-15 s; never reject a nonce at random (its
      // default 5 %); validate every order again instead of reusing a valid authorisation.
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
      PEBBLE_AUTHZREUSE: '0'
    }
  }))
  const close = async (): Promise<void> => {
    await Promise.all(children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return
      const gone = new Promise((resolve) => c.once('exit', resolve))
      c.kill('SIGTERM')
      await gone
    }))
    rmSync(dir, { recursive: true, force: true })
  }
  const ca = readFileSync(listenerCaFile)
  const get = async (port: number, path: string): Promise<{ status: number, body: string }> => await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, servername: 'localhost' }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
  const deadline = Date.now() + 20_000
  for (;;) {
    try {
      if ((await get(acmePort, '/dir')).status === 200) break
    } catch {}
    if (Date.now() > deadline) {
      await close()
      throw new Error(`pebble did not serve its directory within 20 s:\n${logs.join('')}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
    listenerCaFile,
    issuingRoot: async () => (await get(mgmtPort, '/roots/0')).body,
    output: () => logs.join(''),
    close
  }
}
