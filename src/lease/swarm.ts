/**
 * A service's lease on a swarm: a Swarm config named `symphony-lease-<service>`, kept in the
 * managers' Raft store, so every manager sees the same one.
 *
 * - Creating a config by name is atomic across the swarm: of two instances, one gets 409.
 * - A config's data cannot change, but its labels can, with the version index it was read at
 *   (optimistic concurrency): the renewal counter is a label, and a renewal made on a stale
 *   version fails instead of overwriting someone else's lease.
 */
import Docker from 'dockerode'
import { DOCKER_API_VERSION } from '../runtime/docker'
import { statusOf } from '../runtime/engine-errors'
import { LEASE_LABELS, holderFromLabels, holderLabels, leaseName, type Holder, type LeaseCarrier, type LeaseRecord } from './carrier'

interface ConfigInspect {
  readonly ID: string
  readonly Version?: { readonly Index?: number }
  readonly Spec?: { readonly Name?: string, readonly Labels?: Record<string, string>, readonly Data?: string }
}

export class SwarmLeaseCarrier implements LeaseCarrier {
  readonly describe: string
  readonly #docker: Docker
  readonly #name: string

  constructor (private readonly service: string, docker?: Docker) {
    this.#docker = docker ?? new Docker({ version: DOCKER_API_VERSION })
    this.#name = leaseName(service)
    this.describe = `swarm config ${this.#name}`
  }

  async read (): Promise<LeaseRecord | null> {
    const c = await this.#inspect(this.#name)
    return c === null ? null : toRecord(c)
  }

  async create (holder: Holder): Promise<LeaseRecord | null> {
    try {
      const labels = { ...holderLabels(this.service, holder), [LEASE_LABELS.beat]: '0' }
      await this.#docker.createConfig({ Name: this.#name, Labels: labels, Data: Buffer.from(JSON.stringify(holder)).toString('base64') })
    } catch (err) {
      if (statusOf(err) === 409) return null
      throw err
    }
    // The create answer carries only the id; the version comes from a read.
    const c = await this.#inspect(this.#name)
    return c === null || c.Spec?.Labels?.[LEASE_LABELS.instance] !== holder.instance ? null : toRecord(c)
  }

  async renew (record: LeaseRecord, beat: number): Promise<LeaseRecord | null> {
    const spec = { Name: this.#name, Labels: { ...holderLabels(this.service, record.holder), [LEASE_LABELS.beat]: String(beat) }, Data: Buffer.from(JSON.stringify(record.holder)).toString('base64') }
    try {
      await this.#docker.getConfig(record.ref).update({ version: record.version, ...spec } as never)
    } catch (err) {
      if (statusOf(err) === 404) return null
      // A stale version (someone else updated it): ours only if it still names us.
      const now = await this.#inspect(record.ref)
      if (now === null || now.Spec?.Labels?.[LEASE_LABELS.instance] !== record.holder.instance) return null
      throw err
    }
    const c = await this.#inspect(record.ref)
    return c === null ? null : toRecord(c)
  }

  async remove (record: LeaseRecord): Promise<void> {
    try {
      await this.#docker.getConfig(record.ref).remove()
    } catch (err) {
      if (statusOf(err) !== 404) throw err
    }
  }

  async #inspect (ref: string): Promise<ConfigInspect | null> {
    try {
      return await this.#docker.getConfig(ref).inspect() as unknown as ConfigInspect
    } catch (err) {
      if (statusOf(err) === 404) return null
      throw err
    }
  }
}

function toRecord (c: ConfigInspect): LeaseRecord {
  const labels = c.Spec?.Labels
  return { ref: c.ID, holder: holderFromLabels(labels), beat: Number(labels?.[LEASE_LABELS.beat] ?? 0), version: c.Version?.Index ?? 0 }
}
