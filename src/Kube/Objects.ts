/**
 * One Kubernetes object we own, read and written with optimistic
 * concurrency: the object as last read or written is kept, and each update
 * sends it back whole (labels and annotations others set survive) with its
 * `metadata.resourceVersion`, so the API server answers 409 when anyone
 * wrote it since (docs/protocols.md, "Kubernetes"). Writes from this process
 * to one object go one at a time (the elector's renewals and the state
 * backend share the Lease when the state lives in its annotations).
 */
import * as Effect from "effect/Effect"
import type * as Duration from "effect/Duration"
import { type KubeAnswer, type KubeClient, KubeFault, statusMessage } from "./Client.js"

/** A write the API server refused because the object changed since it was read (409), or was created meanwhile. */
export class Conflict {
  readonly _tag = "Conflict"
  constructor(readonly message: string) {}
}

export type ObjectError = Conflict | KubeFault

export type KubeObject = Record<string, unknown> & { metadata?: Record<string, unknown> }

export interface ObjectRef {
  /** `/apis/coordination.k8s.io/v1` or `/api/v1`. */
  readonly group: string
  /** `leases`, `configmaps`. */
  readonly resource: string
  readonly kind: string
  readonly apiVersion: string
  readonly namespace: string
  readonly name: string
}

export const describe = (ref: ObjectRef): string => `${ref.resource === "leases" ? "Lease" : "ConfigMap"} ${ref.namespace}/${ref.name}`

const isObject = (u: unknown): u is KubeObject => typeof u === "object" && u !== null && !Array.isArray(u)

export interface OwnedObject {
  readonly ref: ObjectRef
  /** The object now: undefined when there is none (404). */
  readonly get: Effect.Effect<KubeObject | undefined, KubeFault>
  /** The object as last read or written here. */
  readonly cached: () => KubeObject | undefined
  /**
   * Writes `change(object)`: an update of the object last seen (with its
   * resourceVersion), or a create when there was none. 409 is a Conflict.
   */
  readonly write: (change: (current: KubeObject) => KubeObject) => Effect.Effect<KubeObject, ObjectError>
}

export const owned = (client: KubeClient, ref: ObjectRef, timeout: Duration.Duration): Effect.Effect<OwnedObject> =>
  Effect.map(Effect.makeSemaphore(1), (lock) => {
    const collection = `${ref.group}/namespaces/${encodeURIComponent(ref.namespace)}/${ref.resource}`
    const path = `${collection}/${encodeURIComponent(ref.name)}`
    let last: KubeObject | undefined
    const failed = (what: string, answer: KubeAnswer) =>
      answer.status === 409
        ? new Conflict(`${describe(ref)} changed since it was read (409 ${statusMessage(answer)})`)
        : new KubeFault({ message: `${what} ${describe(ref)}: ${statusMessage(answer)}` })
    const accepted = (answer: KubeAnswer, what: string) => {
      if (!isObject(answer.body)) return Effect.fail(new KubeFault({ message: `${what} ${describe(ref)}: the answer is not an object` }))
      last = answer.body
      return Effect.succeed(answer.body)
    }
    const get = Effect.flatMap(client.request("GET", path, undefined, timeout), (answer) =>
      answer.status === 404
        ? Effect.sync(() => (last = undefined))
        : answer.status === 200
          ? accepted(answer, "reading")
          : Effect.fail(new KubeFault({ message: `reading ${describe(ref)}: ${statusMessage(answer)}` }))
    )
    const write = (change: (current: KubeObject) => KubeObject) =>
      lock.withPermits(1)(
        Effect.suspend(() => {
          const base = last
          if (base === undefined) {
            const fresh = change({ apiVersion: ref.apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } })
            return Effect.flatMap(client.request("POST", collection, fresh, timeout), (answer) =>
              answer.status === 201 || answer.status === 200 ? accepted(answer, "creating") : Effect.fail(failed("creating", answer))
            )
          }
          return Effect.flatMap(client.request("PUT", path, change(base), timeout), (answer) =>
            answer.status === 200 ? accepted(answer, "updating") : Effect.fail(failed("updating", answer))
          )
        })
      )
    return { ref, get, cached: () => last, write }
  })
