/**
 * Watches the folders of the certificate and key files and calls back, debounced, after anything
 * in them changed. Folders rather than files: certbot, cert-manager's mounted secrets and most
 * editors replace a file by renaming a new one over it (or swap a symlink), which a watch on the
 * old file would never see. A spurious call costs one read of the files (the set compares
 * fingerprints), so every event in those folders counts.
 */
import { watch, type FSWatcher } from 'node:fs'
import { dirname, resolve } from 'node:path'

export class FolderWatch {
  private readonly watchers = new Map<string, FSWatcher | null>()
  private timer: NodeJS.Timeout | null = null
  private closed = false

  /** `onChange` runs `debounceMs` after the last event of a burst. */
  constructor (private readonly onChange: () => void, private readonly debounceMs = 200, private readonly onError?: (dir: string, err: Error) => void) {}

  /** Watch the folder of each file (once per folder). A folder that cannot be watched is reported and skipped: SIGHUP still reloads. */
  add (files: readonly string[]): void {
    for (const file of files) {
      const dir = dirname(resolve(file))
      if (this.closed || this.watchers.has(dir)) continue
      try {
        const w = watch(dir, { persistent: false }, () => { this.schedule() })
        w.on('error', (err) => { this.onError?.(dir, err) })
        this.watchers.set(dir, w)
      } catch (err) {
        this.watchers.set(dir, null)
        this.onError?.(dir, err as Error)
      }
    }
  }

  private schedule (): void {
    if (this.closed) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = null
      this.onChange()
    }, this.debounceMs)
    this.timer.unref()
  }

  /** Stop watching. Idempotent. */
  close (): void {
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    for (const w of this.watchers.values()) w?.close()
    this.watchers.clear()
  }
}
