/**
 * A proxy thread's access log (--access-log, docs/logs.md): one line per finished request,
 * appended to a buffer of this thread and written by async fs.write on a descriptor the thread
 * owns, so the request path never waits for a disk.
 *
 * - Two buffers: lines go into `active` while `other` is being written. A write starts when
 *   `active` holds FLUSH_AT bytes, or on the thread's tick (every 500 ms).
 * - Bounded: a line that does not fit `active` (CAP bytes: the disk is FLUSH_AT behind and more)
 *   is dropped and counted (W_ACCESS_DROPPED), never queued without limit.
 * - Failures (a full disk, a file made unwritable, a reopen that fails) are counted
 *   (W_ACCESS_ERRORS, one per failed call), logged once per condition and thread, and their
 *   lines dropped and counted; the next write that works says so. The proxy goes on either way.
 * - Rotation: `reopen()` (the main thread's `reopen` control message, sent on SIGHUP) and, every
 *   second, stat(path) against the open file's inode: a file moved or removed is reopened.
 * - `-` writes to fd 1 the same way, in pieces of whole lines of at most PIPE_BUF bytes where it
 *   can, so that lines of several threads do not interleave on a pipe.
 *
 * With --access-log unset the thread gets NO_ACCESS_LOG: the request path calls a no-op.
 */
import fs from 'node:fs'
import type { ProxySettings } from '../config/types'
import { W_ACCESS_DROPPED, W_ACCESS_ERRORS } from '../table/layout'
import { lineFormat, type AccessRecord, type LineFormat } from './access-line'
import { log } from './thread-log'

export interface AccessLog {
  /** One finished request, answered with `status` (499: the client went away). */
  write: (r: AccessRecord, status: number) => void
  /** The thread's tick: write what is buffered; every other tick, check for a moved file. */
  tick: () => void
  /** Open the file again by its name (after a rotation). */
  reopen: () => void
  /** Write what is left, then close the file. Idempotent. */
  close: () => Promise<void>
}

function noop (): void {}

/** --access-log unset: nothing on the request path but this call. */
export const NO_ACCESS_LOG: AccessLog = { write: noop, tick: noop, reopen: noop, close: async () => {} }

/** Start a write once this much is buffered. */
export const FLUSH_AT = 64 * 1024
/** Bytes one buffer holds: lines beyond it, while the other buffer is still being written, are dropped. */
export const CAP = 1024 * 1024
/** Writes to a pipe up to this size are atomic (POSIX PIPE_BUF on Linux). */
const PIPE_BUF = 4096
/** O_APPEND: every write lands at the end, whoever else appends (another thread, a copy of the file). */
export const OPEN_FLAGS = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT
export const FILE_MODE = 0o640

/** The access log the settings ask for: NO_ACCESS_LOG, or one writing to the file or stdout. */
export function createAccessLog (settings: Pick<ProxySettings, 'accessLog' | 'accessLogFormat'>, i32: Int32Array, workerBase: number): AccessLog {
  if (settings.accessLog === null) return NO_ACCESS_LOG
  return new AccessLogWriter(settings.accessLog, lineFormat(settings.accessLogFormat), i32, workerBase)
}

/**
 * Byte 0 of every buffer is a newline that is written only after a failed write left a partial
 * line in the file: the next line then starts on a line of its own. Lines are appended from 1.
 */
const START = 1

export class AccessLogWriter implements AccessLog {
  private readonly stdout: boolean
  private fd = -1
  private ino = -1
  private dev = -1
  /** A descriptor replaced by a reopen while a write to it was in flight: closed when it ends. */
  private retiredFd = -1
  private active = newBuffer()
  private activeLen = START
  private activeLines = 0
  private other = newBuffer()
  /** The part of `other` being written: [writingOff, writingLen); writingLen 0 = none. */
  private writingOff = 0
  private writingLen = 0
  private busy = false
  /** A failed write left part of a line in the file. */
  private brokenLine = false
  private opening = false
  private checking = false
  private ticks = 0
  private closing = false
  private closed: Promise<void> | null = null
  private idle: (() => void) | null = null
  /** The condition reported and not yet recovered from (an errno code, or 'lagging'), and what it dropped. */
  private failing: string | null = null
  private droppedSince = 0

  constructor (
    private readonly path: string,
    private readonly format: LineFormat,
    private readonly i32: Int32Array,
    private readonly wbase: number
  ) {
    this.stdout = path === '-'
    if (this.stdout) {
      this.fd = 1
      return
    }
    // At thread start only (the main thread checked the file before starting anything): a
    // short synchronous open rather than lines buffered before the descriptor exists.
    try {
      this.adopt(fs.openSync(path, OPEN_FLAGS, FILE_MODE))
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException, 0)
    }
  }

  readonly write = (r: AccessRecord, status: number): void => {
    const line = this.format(r, status, Date.now(), performance.now() - r.t0)
    const n = line.length // ASCII: access-line.ts escapes everything else
    if (this.activeLen + n > CAP) {
      this.drop(1, 'lagging')
      return
    }
    this.active.write(line, this.activeLen, 'latin1')
    this.activeLen += n
    this.activeLines++
    if (this.activeLen >= FLUSH_AT && !this.busy) this.flush()
  }

  readonly tick = (): void => {
    this.flush()
    if (!this.stdout && ++this.ticks % 2 === 0) this.check()
  }

  readonly reopen = (): void => {
    if (this.stdout || this.opening || this.closing) return
    this.opening = true
    fs.open(this.path, OPEN_FLAGS, FILE_MODE, this.onOpened)
  }

  readonly close = (): Promise<void> => {
    this.closed ??= this.closeOnce()
    return this.closed
  }

  /** Start writing what is buffered, unless a write is in flight (its end starts the next). */
  private flush (): void {
    if (this.busy || this.closing) return
    if (this.writingLen === 0) {
      if (this.activeLen === START) return
      if (this.fd < 0) {
        // No file (an open failed, reported): these lines have nowhere to go.
        this.drop(this.activeLines, null)
        this.activeLen = START
        this.activeLines = 0
        return
      }
      const full = this.active
      this.active = this.other
      this.other = full
      this.writingOff = this.brokenLine ? 0 : START
      this.brokenLine = false
      this.writingLen = this.activeLen
      this.activeLen = START
      this.activeLines = 0
    }
    this.writeMore()
  }

  private writeMore (): void {
    let end = this.writingLen
    if (this.stdout && end - this.writingOff > PIPE_BUF) {
      // Whole lines up to PIPE_BUF bytes; a longer line goes alone.
      const nl = this.other.lastIndexOf(0x0a, this.writingOff + PIPE_BUF - 1)
      end = nl >= this.writingOff ? nl + 1 : this.other.indexOf(0x0a, this.writingOff) + 1
    }
    this.busy = true
    fs.write(this.fd, this.other, this.writingOff, end - this.writingOff, null, this.onWritten)
  }

  private readonly onWritten = (err: NodeJS.ErrnoException | null, n: number): void => {
    this.busy = false
    if (this.retiredFd >= 0) {
      fs.close(this.retiredFd, noop)
      this.retiredFd = -1
    }
    if (err !== null) {
      // stdout is a full non-blocking pipe: try again from the same place on the next tick.
      if (err.code === 'EAGAIN') {
        this.settle()
        return
      }
      // Part of a line may be in the file (ENOSPC after a short write): the next write starts
      // with the newline of byte 0. writingOff 0: that newline itself was not written yet.
      if (this.writingOff === 0 || this.other[this.writingOff - 1] !== 0x0a) this.brokenLine = true
      this.failed(err, countLines(this.other, this.writingOff, this.writingLen))
      this.writingLen = 0
      this.settle()
      return
    }
    this.writingOff += n
    if (this.writingOff < this.writingLen && !this.closing) {
      this.writeMore()
      return
    }
    if (this.writingOff >= this.writingLen) {
      this.writingLen = 0
      this.recovered()
    }
    if (this.settle()) return
    if (this.activeLen >= FLUSH_AT) this.flush()
  }

  /** A write ended: if close() waits for it, let it go on. */
  private settle (): boolean {
    if (this.idle === null) return false
    const idle = this.idle
    this.idle = null
    idle()
    return true
  }

  private readonly onOpened = (err: NodeJS.ErrnoException | null, fd: number): void => {
    this.opening = false
    if (err !== null) {
      // The old descriptor (if any) stays: lines go on into the moved file meanwhile.
      this.failed(err, 0)
      return
    }
    if (this.closing) {
      fs.close(fd, noop)
      return
    }
    const old = this.fd
    this.adopt(fd)
    if (old >= 0) {
      if (this.busy) this.retiredFd = old
      else fs.close(old, noop)
    }
    this.recovered()
  }

  private adopt (fd: number): void {
    this.fd = fd
    const st = fs.fstatSync(fd)
    this.ino = st.ino
    this.dev = st.dev
  }

  /** Every second: the file moved or removed (logrotate, a person) is reopened by its name. */
  private check (): void {
    if (this.checking || this.opening || this.closing) return
    if (this.fd < 0) {
      this.reopen()
      return
    }
    this.checking = true
    fs.stat(this.path, this.onStat)
  }

  private readonly onStat = (err: NodeJS.ErrnoException | null, st: fs.Stats): void => {
    this.checking = false
    if (err !== null) {
      if (err.code === 'ENOENT') this.reopen()
      return
    }
    if (st.ino !== this.ino || st.dev !== this.dev) this.reopen()
  }

  /** Lines lost: counted always; the condition (if any) reported once until it recovers. */
  private drop (lines: number, condition: string | null): void {
    Atomics.add(this.i32, this.wbase + W_ACCESS_DROPPED, lines)
    this.droppedSince += lines
    if (condition === null || this.failing !== null) return
    this.failing = condition
    log('warn', 'access log: lines dropped, the disk is not keeping up; dropping lines until it does', { path: this.path })
  }

  private failed (err: NodeJS.ErrnoException, lines: number): void {
    Atomics.add(this.i32, this.wbase + W_ACCESS_ERRORS, 1)
    const code = err.code ?? 'EIO'
    if (this.failing !== code) {
      this.failing = code
      log('error', 'access log: cannot write; its lines are dropped and counted until it works again (the proxy goes on)', { path: this.path, code, error: err.message })
    }
    if (lines > 0) this.drop(lines, null)
  }

  private recovered (): void {
    if (this.failing === null) return
    log('info', 'access log: writing again', { path: this.path, after: this.failing, droppedLines: this.droppedSince })
    this.failing = null
    this.droppedSince = 0
  }

  private async closeOnce (): Promise<void> {
    this.closing = true
    if (this.busy) await new Promise<void>((resolve) => { this.idle = resolve })
    // The thread is ending: what is left goes out synchronously.
    if (this.fd >= 0) {
      try {
        if (this.writingLen > this.writingOff) fs.writeSync(this.fd, this.other, this.writingOff, this.writingLen - this.writingOff)
        if (this.activeLen > START) fs.writeSync(this.fd, this.active, START, this.activeLen - START)
      } catch {}
      if (!this.stdout) fs.closeSync(this.fd)
    }
    this.fd = -1
    if (this.retiredFd >= 0) fs.closeSync(this.retiredFd)
    this.retiredFd = -1
  }
}

function newBuffer (): Buffer {
  const b = Buffer.allocUnsafe(CAP)
  b[0] = 0x0a
  return b
}

function countLines (b: Buffer, from: number, to: number): number {
  let n = 0
  for (let i = from; i < to; i++) if (b[i] === 0x0a) n++
  return n
}
