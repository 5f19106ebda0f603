import type Docker from 'dockerode'

/**
 * Pull `ref` on the engine. A pull ends only when its progress stream does, and a failure may
 * arrive in-band, as an `{"error":…}` line in a 200 answer.
 */
export async function pullImage (docker: Docker, ref: string, signal: AbortSignal): Promise<void> {
  const stream = await docker.pull(ref, { abortSignal: signal })
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, output: Array<{ error?: string }>) => {
      const failed = output?.find((o) => typeof o.error === 'string')
      if (err !== null) reject(err)
      else if (failed !== undefined) reject(new Error(failed.error))
      else resolve()
    })
  })
}
