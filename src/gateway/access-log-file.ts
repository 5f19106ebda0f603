import fs from 'node:fs'
import { AccessLogError } from '../errors'

/**
 * Before anything starts: the --access-log file can be opened the way every proxy thread will
 * open it (append, create with mode 0640: src/worker/access-log.ts). A file that cannot is the
 * user's mistake, so start-up stops with one line and exit 8 (docs/errors.md) rather than a
 * gateway that runs without the log it was asked for. `-` (stdout) needs no check.
 * @throws AccessLogError
 */
export function checkAccessLogFile (file: string | null): void {
  if (file === null || file === '-') return
  let fd: number
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o640)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new AccessLogError(`--access-log ${file}: cannot open it for appending (${e.code ?? e.message}); give a file in an existing directory this user may write, or - for stdout`, { cause: err })
  }
  fs.closeSync(fd)
}
