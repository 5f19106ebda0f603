/**
 * What GET /readyz answers (main thread; a pure function of what the caller reads): whether this
 * instance should be sent traffic now, and if not, why. A load balancer or a takeover's caller
 * reads it, so it is ready only once the public port accepts, and no longer once it drains.
 */
import type { PlaneState } from '../control/plane'

export interface ReadinessInputs {
  /** The proxy threads have bound the public port, and at least one thread serves now. */
  readonly listening: boolean
  readonly plane: PlaneState
  /** At least one backend is in rotation (healthy). */
  readonly healthyBackend: boolean
}

export interface Readiness { readonly ready: boolean, readonly status: string }

export function readiness ({ listening, plane, healthyBackend }: ReadinessInputs): Readiness {
  if (plane === 'stopping') return { ready: false, status: 'draining' }
  if (!listening) return { ready: false, status: 'not listening yet' }
  if (!healthyBackend) return { ready: false, status: 'no healthy backend' }
  return { ready: true, status: 'ready' }
}
