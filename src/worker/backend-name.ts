/**
 * How a backend is named in the proxy threads' log lines (the access log's `backend`, the
 * 'answer cut short' warning): `host:port` of its table slot, `[v6]:port` for an IPv6 address.
 * The one place that decides it, so that it can follow the metrics' backend label.
 */
export function backendName (host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
