/**
 * The notification policy's memory, for as long as the daemon lives: one
 * track per (target, service) (Policy.ts says what a track means). This
 * service is its one owner: each configuration's policy reads and writes
 * tracks through it, a reload `retain`s what still applies, and a
 * persistence backend (State/File.ts: the state file; none: memory only)
 * loads it at start and saves it after a cycle that changed it.
 *
 * The tracks are a Map private to this service and updated in place, not a
 * `Ref`: `get` and `set` run once per service and target on the cycle's hot
 * path as plain calls (ARCHITECTURE.md, "The hot path"), and a copy per
 * update would cost O(targets x services) per reading.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type { ServiceRef } from "./Domain.js"
import { MONITORING, serviceId } from "./Domain.js"
import { identityOf, type TargetSpec } from "./Target/registry.js"
import { logErrorAlways } from "./Logging.js"
import { count } from "./Metrics.js"

export const Track = Schema.Struct({
  candidate: Schema.Number,
  streak: Schema.Number,
  effective: Schema.Number,
  delivered: Schema.Number,
  lastSentAt: Schema.NullOr(Schema.Number),
  /** Held back by a maintenance window since the last delivery: the first reading after it notifies again. */
  maintained: Schema.Boolean
})
export type Track = typeof Track.Type

/** Nothing known: the service is taken as healthy and nothing as sent. */
export const FRESH: Track = { candidate: 0, streak: 0, effective: 0, delivered: 0, lastSentAt: null, maintained: false }

/** Where tracks outlive the process. `load` never fails: what cannot be read is said, and the start is empty. */
export interface StateBackend {
  readonly load: Effect.Effect<ReadonlyMap<string, Track>>
  /** What a new leader reads (State/Cluster.ts): fails rather than start empty, for it must not send what was sent. */
  readonly fetch?: Effect.Effect<ReadonlyMap<string, Track>, string>
  /** Fails with why, for the store to say. */
  readonly save: (tracks: ReadonlyMap<string, Track>) => Effect.Effect<void, string>
}

/** What the store needs of a configuration: its services and targets, and where its state lives. */
export interface Managed {
  readonly services: ReadonlyArray<ServiceRef>
  readonly targets: ReadonlyArray<TargetSpec>
  readonly backend: StateBackend | undefined
}

export interface PolicyStoreService {
  /** The track under `key`; FRESH when there is none. */
  readonly get: (key: string) => Track
  /** Keeps `track` under `key` (a track equal to what is there changes nothing, and is not saved again). */
  readonly set: (key: string, track: Track) => void
  /** Saves the tracks, when there is a backend and something changed since the last save. */
  readonly persist: Effect.Effect<void>
  /**
   * A new configuration is in force: forgets the tracks of services no
   * longer configured and of targets gone or no longer the same (another
   * type, URL, page: Target/registry.ts), and saves to its backend from now on.
   */
  readonly retain: (next: Managed) => Effect.Effect<void>
  /** False while the last save failed (a `--once` run then exits non-zero). */
  readonly saving: () => boolean
  /**
   * Takes the backend's tracks as they are now, in place of those in memory
   * (a replica that becomes leader: another wrote them since); fails, and
   * changes nothing, when they cannot be read.
   */
  readonly reload: Effect.Effect<void, string>
}

export class PolicyStore extends Context.Tag("reporter/PolicyStore")<PolicyStore, PolicyStoreService>() {}

/** A track's key: its target's name, and the service. */
export const keyOf = (target: string, s: ServiceRef): string => JSON.stringify([target, s.name, s.environment])

const partsOf = (key: string) => {
  const [target, name, environment] = JSON.parse(key) as [string, string, string]
  return { target, service: { name, environment } }
}

const same = (a: Track, b: Track) =>
  a.candidate === b.candidate && a.streak === b.streak && a.effective === b.effective && a.delivered === b.delivered && a.lastSentAt === b.lastSentAt && a.maintained === b.maintained

/**
 * The store for the first configuration: its backend's tracks, less those of
 * services and targets that configuration does not have (a state file
 * written under an older one).
 */
export const layer = (first: Managed): Layer.Layer<PolicyStore> =>
  Layer.effect(
    PolicyStore,
    Effect.gen(function* () {
      const tracks = new Map(first.backend === undefined ? [] : yield* first.backend.load)
      let identities = new Map(first.targets.map((t) => [t.name, identityOf(t)]))
      let backend = first.backend
      let current: Managed = first
      let dirty = false
      const prune = (keep: (target: string, service: ServiceRef) => boolean) => {
        for (const key of tracks.keys()) {
          const { target, service } = partsOf(key)
          if (!keep(target, service)) {
            tracks.delete(key)
            dirty = true
          }
        }
      }
      // The monitoring's own notices (Blind.ts) are a service no configuration lists, kept while their notifier is.
      const configured = (services: ReadonlyArray<ServiceRef>) => {
        const ids = new Set([...services.map(serviceId), serviceId(MONITORING)])
        return (service: ServiceRef) => ids.has(serviceId(service))
      }
      const firstServices = configured(first.services)
      prune((target, service) => identities.has(target) && firstServices(service))

      const set = (key: string, track: Track) => {
        if (same(tracks.get(key) ?? FRESH, track)) return
        tracks.set(key, track)
        dirty = true
      }
      // A streak of failed saves is said once at error (and again when it ends); each one is counted.
      let failing = false
      const persist = Effect.suspend(() => {
        const to = backend
        if (to === undefined || !dirty) return Effect.void
        return to.save(tracks).pipe(
          Effect.matchEffect({
            onFailure: (why) =>
              Effect.zipRight(
                count((m) => m.stateWriteFailure()),
                failing
                  ? Effect.logDebug(`${why}: still not written`)
                  : Effect.sync(() => void (failing = true)).pipe(
                      Effect.zipRight(
                        logErrorAlways(`${why}: what was sent is not saved; after a restart the reporter would not know it, and could send it again (it is kept in memory, and saved again after each cycle)`)
                      )
                    )
              ),
            onSuccess: () =>
              Effect.suspend(() => {
                dirty = false
                if (!failing) return Effect.void
                failing = false
                return Effect.logInfo("The state file is written again")
              })
          })
        )
      })
      const retain = (next: Managed) =>
        Effect.sync(() => {
          const nextIdentities = new Map(next.targets.map((t) => [t.name, identityOf(t)]))
          const services = configured(next.services)
          prune((target, service) => identities.get(target) !== undefined && identities.get(target) === nextIdentities.get(target) && services(service))
          identities = nextIdentities
          current = next
          // What is in memory is newer than what any backend holds: it is written after the next cycle.
          backend = next.backend
          dirty = true
        })
      const reload = Effect.suspend(() => {
        const from = backend
        if (from === undefined) return Effect.void
        return Effect.map(from.fetch ?? from.load, (loaded) => {
          tracks.clear()
          for (const [key, track] of loaded) tracks.set(key, track)
          const services = configured(current.services)
          prune((target, service) => identities.has(target) && services(service))
          dirty = false
        })
      })
      return { get: (key) => tracks.get(key) ?? FRESH, set, persist, retain, saving: () => !failing, reload }
    })
  )
