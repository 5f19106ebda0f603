import { ConfigError } from '../../src/errors'

/**
 * The message of the ConfigError `fn` throws, or a marker that fails any `t.match` when it throws
 * nothing. Other errors propagate: they are bugs, not user mistakes.
 */
export function configMessage (fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err.message
    throw err
  }
  return '<did not throw>'
}
