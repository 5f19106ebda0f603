/**
 * What the measurements of their own (`--scenario backends|idle10k|control`) get from the bench
 * and give back: each runs with the bench's children, temp dirs and pinning, and returns its
 * Markdown and JSON, which run.ts writes to bench/results/<out>-<scenario>.{json,md}.
 */
import type { BenchOptions } from './args'
import type { Children, Pinning } from './procs'
import type { TempDirs } from './targets'
import type { Tools } from './tools'

export interface ModeContext {
  readonly opts: BenchOptions
  readonly children: Children
  readonly tmp: TempDirs
  /** null: not pinned. The bench process itself runs on `loadCpu`. */
  readonly pinning: Pinning | null
  /** Clock ticks per second of /proc times. */
  readonly clk: number
  readonly tools: Tools
  readonly log: (line: string) => void
}

export interface ModeOutput {
  /** The Markdown file's title. */
  readonly title: string
  /** Tables and their captions. */
  readonly markdown: string
  /** Things skipped or worth knowing, listed under the tables. */
  readonly notes: readonly string[]
  /** The JSON's content beyond the common header (options, machine, commit). */
  readonly data: Record<string, unknown>
}

/** Sleep `ms`. */
export async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
