import type { MessagePort } from 'node:worker_threads'
import type { LogLevel } from '../config/types'

/** A log line, written by the main thread's logger with `worker` added (one stream, one format). */
export interface LogMessage { type: 'log', level: LogLevel, msg: string, fields?: Record<string, unknown> }

/** This thread's control port, once its task began: where its log lines go. */
let port: MessagePort | null = null

/** Log lines go to `p` from now on (null: the task is over, lines go to stderr). */
export function logTo (p: MessagePort | null): void { port = p }

/**
 * Log through the main thread's logger: a message on the control port, written there with this
 * thread's index, in the process's one format and stream, after the level filter. A message
 * posted just before the thread exits is still delivered.
 */
export function log (level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
  if (port !== null) port.postMessage({ type: 'log', level, msg, fields } satisfies LogMessage)
  else process.stderr.write(`symphony proxy worker: ${msg} ${JSON.stringify(fields ?? {})}\n`)
}
