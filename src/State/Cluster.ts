/**
 * The policy's tracks kept in the cluster (`ha.state`), so that a new leader
 * or a restarted pod knows what was sent: the state file's JSON
 * (State/File.ts) under one key of a ConfigMap (`configmap`, the default;
 * `<lease name>-state` unless named), or under one annotation of the Lease
 * itself (`lease`). Written with the resourceVersion last read: the API
 * server refuses (409) a write over one it has not seen. A leader that meets
 * a 409 reads the object again and writes once more (what it sent is the
 * truth); a replica that no longer leads does not (the new leader's state
 * stands).
 *
 * The API server's limits (docs/protocols.md, "Kubernetes"): a ConfigMap
 * holds at most 1 MiB of data, a Lease's annotations 256 KiB together. The
 * state is checked against them before it is sent, and what does not fit is
 * said with its size.
 */
import * as Effect from "effect/Effect"
import { type StateBackend, type Track } from "../PolicyStore.js"
import { decodeState, encodeState } from "./File.js"
import { describe, type KubeObject, type OwnedObject } from "../Kube/Objects.js"

/** The ConfigMap's key that holds the state (a ConfigMap key: [-._a-zA-Z0-9]+). */
export const STATE_KEY = "state.json"
/** The Lease's annotation that holds it (a qualified name: prefix/name). */
export const STATE_ANNOTATION = "cloudmon-metrics-reporter/state"
/**
 * A ConfigMap's data: the API server counts the values of data and binaryData
 * (ValidateConfigMap, docs/protocols.md section 7); the keys are counted here
 * too, which errs on the safe side by a few bytes.
 */
export const MAX_CONFIGMAP_BYTES = 1024 * 1024
/** All of an object's annotations, keys and values together (TotalAnnotationSizeLimitB). */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024

interface Place {
  readonly object: OwnedObject
  /** What the state's text is in the object, if any. */
  readonly read: (o: KubeObject) => string | undefined
  /** The object with `text` as the state. */
  readonly put: (o: KubeObject, text: string) => KubeObject
  /** Bytes the object's limit counts once `text` is in it, and the limit, in words. */
  readonly size: (o: KubeObject | undefined, text: string) => number
  readonly limit: number
  readonly limitWords: string
}

const record = (u: unknown): Record<string, string> =>
  typeof u === "object" && u !== null && !Array.isArray(u) ? Object.fromEntries(Object.entries(u).filter((e): e is [string, string] => typeof e[1] === "string")) : {}

const bytes = (entries: Record<string, string>) => Object.entries(entries).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0)

const backend = (p: Place, leading: () => boolean): StateBackend => {
  const where = describe(p.object.ref)
  const fetch: Effect.Effect<ReadonlyMap<string, Track>, string> = p.object.get.pipe(
    Effect.mapError((e) => `the notification state in ${where} cannot be read: ${e.message}`),
    Effect.flatMap((o) => {
      const text = o === undefined ? undefined : p.read(o)
      if (text === undefined) return Effect.succeed(new Map<string, Track>())
      return decodeState(text).pipe(
        Effect.catchAll(() =>
          Effect.as(Effect.logWarning(`The notification state in ${where} is not one of this program: starting with no notification state`), new Map<string, Track>())
        )
      )
    })
  )
  const save = (tracks: ReadonlyMap<string, Track>) =>
    Effect.gen(function* () {
      const text = yield* encodeState(tracks)
      const size = p.size(p.object.cached(), text)
      if (size > p.limit) {
        return yield* Effect.fail(
          `the notification state (${tracks.size} tracks, ${Math.ceil(size / 1024)} KiB) does not fit in ${where}: ${p.limitWords}; split the services among reporters, or use ha.state: configmap (1 MiB)`
        )
      }
      const cannotWrite = (e: { readonly message: string }) => `the notification state cannot be written to ${where}: ${e.message}`
      const write = p.object.write((o) => p.put(o, text))
      const first = yield* Effect.either(write)
      if (first._tag === "Right") return
      if (first.left._tag !== "Conflict") return yield* Effect.fail(cannotWrite(first.left))
      if (!leading()) return yield* Effect.fail(`${where} was written by another replica since this one read it, and this one no longer leads: its state is not written (the leader's stands)`)
      // The leader's record of what it sent is the truth: read the object again and write over it.
      yield* Effect.mapError(p.object.get, cannotWrite)
      yield* Effect.mapError(write, cannotWrite)
    })
  return {
    load: Effect.catchAll(fetch, (why) => Effect.as(Effect.logWarning(`${why}: starting with no notification state`), new Map<string, Track>())),
    fetch,
    save
  }
}

const metadata = (o: KubeObject) => (o.metadata ?? {}) as Record<string, unknown>

/** The state under `state.json` of a ConfigMap of its own. */
export const configMapBackend = (object: OwnedObject, leading: () => boolean): StateBackend =>
  backend(
    {
      object,
      read: (o) => record(o["data"])[STATE_KEY],
      put: (o, text) => ({
        ...o,
        metadata: { ...metadata(o), labels: { ...record(metadata(o)["labels"]), "app.kubernetes.io/managed-by": "cloudmon-metrics-reporter" } },
        data: { ...record(o["data"]), [STATE_KEY]: text }
      }),
      size: (o, text) => bytes({ ...record(o?.["data"]), [STATE_KEY]: text }) + bytes(record(o?.["binaryData"])),
      limit: MAX_CONFIGMAP_BYTES,
      limitWords: "a ConfigMap holds at most 1 MiB"
    },
    leading
  )

/** The state under the `cloudmon-metrics-reporter/state` annotation of the Lease. */
export const leaseBackend = (lease: OwnedObject, leading: () => boolean): StateBackend =>
  backend(
    {
      object: lease,
      read: (o) => record(metadata(o)["annotations"])[STATE_ANNOTATION],
      put: (o, text) => ({ ...o, metadata: { ...metadata(o), annotations: { ...record(metadata(o)["annotations"]), [STATE_ANNOTATION]: text } } }),
      size: (o, text) => bytes({ ...record(o === undefined ? undefined : metadata(o)["annotations"]), [STATE_ANNOTATION]: text }),
      limit: MAX_ANNOTATIONS_BYTES,
      limitWords: "an object's annotations hold at most 256 KiB together"
    },
    leading
  )
