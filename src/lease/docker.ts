/**
 * A service's lease on one Docker engine: a container named `symphony-lease-<service>`, created
 * and never started.
 *
 * - Creating a container by name is atomic on an engine: of two instances, one gets 409.
 * - Labels cannot change after creation, so they hold only who the holder is. The renewal counter
 *   goes where the engine does allow a change on an existing container: its restart policy's
 *   retry count (`docker update`). The container never runs, so the policy never applies; it is
 *   a counter the engine stores and `inspect` returns, nothing more.
 * - It has no network (`NetworkMode: none`) and is created from the service's image, which the
 *   runtime has already checked is present.
 */
import Docker from 'dockerode'
import { DOCKER_API_VERSION } from '../runtime/docker'
import { statusOf } from '../runtime/engine-errors'
import { holderFromLabels, holderLabels, leaseName, type Holder, type LeaseCarrier, type LeaseRecord } from './carrier'

interface ContainerInspect {
  readonly Id: string
  readonly Config?: { readonly Labels?: Record<string, string> }
  readonly HostConfig?: { readonly RestartPolicy?: { readonly MaximumRetryCount?: number } }
}

export class DockerLeaseCarrier implements LeaseCarrier {
  readonly describe: string
  readonly #docker: Docker
  readonly #name: string

  constructor (private readonly service: string, private readonly image: string, docker?: Docker) {
    this.#docker = docker ?? new Docker({ version: DOCKER_API_VERSION })
    this.#name = leaseName(service)
    this.describe = `container ${this.#name}`
  }

  async read (): Promise<LeaseRecord | null> {
    try {
      return toRecord(await this.#docker.getContainer(this.#name).inspect() as unknown as ContainerInspect)
    } catch (err) {
      if (statusOf(err) === 404) return null
      throw err
    }
  }

  async create (holder: Holder): Promise<LeaseRecord | null> {
    try {
      const c = await this.#docker.createContainer({
        name: this.#name,
        Image: this.image,
        Labels: holderLabels(this.service, holder),
        HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 0 } }
      })
      return { ref: c.id, holder, beat: 0, version: 0 }
    } catch (err) {
      if (statusOf(err) === 409) return null
      throw err
    }
  }

  async renew (record: LeaseRecord, beat: number): Promise<LeaseRecord | null> {
    try {
      await this.#docker.getContainer(record.ref).update({ RestartPolicy: { Name: 'on-failure', MaximumRetryCount: beat } })
      return { ...record, beat }
    } catch (err) {
      // Removed by id: only an instance that saw the lease expire does that (or a user).
      if (statusOf(err) === 404) return null
      throw err
    }
  }

  async remove (record: LeaseRecord): Promise<void> {
    try {
      await this.#docker.getContainer(record.ref).remove({ force: true })
    } catch (err) {
      if (statusOf(err) !== 404) throw err
    }
  }
}

function toRecord (c: ContainerInspect): LeaseRecord {
  return { ref: c.Id, holder: holderFromLabels(c.Config?.Labels), beat: c.HostConfig?.RestartPolicy?.MaximumRetryCount ?? 0, version: 0 }
}
