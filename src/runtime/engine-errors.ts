/** How dockerode reports a failed Engine API call: the HTTP status and the engine's message. */
interface DockerApiError extends Error { statusCode?: number, json?: { message?: string } | null }

/** The HTTP status of a failed Engine API call (404: no such object), if it was one. */
export function statusOf (err: unknown): number | undefined {
  return (err as DockerApiError | null)?.statusCode
}

/** The engine's own message for a failed call, else the error's. */
export function messageOf (err: unknown): string {
  const e = err as DockerApiError | null
  return e?.json?.message ?? e?.message ?? String(err)
}
