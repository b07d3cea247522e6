/**
 * The notification policy: what each target is told about each service, so
 * that nothing is sent twice and nothing is lost. Per (target, service) it
 * keeps a small track: the status seen in a row (and how often), the
 * effective status (which moves once that streak meets its threshold), and
 * the status last delivered to the target. A notification is due when the
 * effective status differs from the delivered one (a change, or a recovery),
 * or a reminder is due; a failed delivery leaves `delivered` as it was, so
 * it is due again next cycle until it is delivered or superseded.
 *
 * Failed and stale reads never reach here: they change nothing.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { NotifySection } from "./Config/Fields.js"
import { type Health, type Notification, notificationFor, type ServiceRef } from "./Domain.js"

export interface NotifyPolicy {
  /** `every_poll`: every unhealthy reading is sent; `on_change`: changes only (and reminders). */
  readonly mode: "every_poll" | "on_change"
  /** on_change: remind while still unhealthy, at most this often; zero: never. */
  readonly repeatInterval: Duration.Duration
  /** One recovery notification when a notified service returns to 0. */
  readonly sendResolved: boolean
  /** Consecutive readings in an unhealthy state before it counts. */
  readonly failureThreshold: number
  /** Consecutive healthy readings before the service counts as recovered. */
  readonly successThreshold: number
}

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

/**
 * One current reading. The streak counts readings on the same side (healthy,
 * or unhealthy at any level: 1,2,1,2 is an outage all along); once it meets
 * its side's threshold, the effective status is the reading's.
 */
export const observe = (p: NotifyPolicy, t: Track, status: number): Track => {
  const sameSide = (status === 0) === (t.candidate === 0)
  const streak = sameSide ? t.streak + 1 : 1
  const threshold = status === 0 ? p.successThreshold : p.failureThreshold
  return { ...t, candidate: status, streak, effective: streak >= threshold ? status : t.effective }
}

export type Due = "status" | "resolved" | "reminder"

/** What is due after `observe`, and the track as it is when nothing needs delivering. */
export const due = (p: NotifyPolicy, t: Track, now: number, inMaintenance: boolean): { readonly track: Track; readonly due: Option.Option<Due> } => {
  if (inMaintenance) return { track: { ...t, maintained: t.maintained || t.effective > 0 || t.delivered > 0 }, due: Option.none() }
  const recovered = t.effective === 0 && t.delivered > 0
  if (recovered && !p.sendResolved) return { track: { ...t, delivered: 0, maintained: false }, due: Option.none() }
  if (recovered) return { track: t, due: Option.some("resolved") }
  if (t.effective === 0) return { track: { ...t, maintained: false }, due: Option.none() }
  if (p.mode === "every_poll" || t.effective !== t.delivered || t.maintained) return { track: t, due: Option.some("status") }
  const reminder =
    Duration.toMillis(p.repeatInterval) > 0 && t.lastSentAt !== null && now - t.lastSentAt >= Duration.toMillis(p.repeatInterval)
  return { track: t, due: reminder ? Option.some("reminder") : Option.none() }
}

/**
 * The notification for what is due: the effective status (not the reading,
 * which a threshold may not have let through yet), or the recovery.
 */
export const notificationOf = (service: ServiceRef, health: Health, d: Due, effective: number): Notification =>
  d === "resolved"
    ? { ...notificationFor(service, { ...health, status: 0 }), message: "Service recovered" }
    : notificationFor(service, { ...health, status: effective })

/** Whether a service is inside a maintenance window for this reading. */
export type InMaintenance = (service: ServiceRef, health: Health, now: number) => boolean

/**
 * `decide` and `delivered` are plain synchronous calls on the cycle's hot path
 * (once per service and target): only what does I/O, `persist`, is an Effect.
 */
export interface PolicyService {
  /** Observes a current reading for `target` and says what, if anything, to tell it. */
  readonly decide: (target: string, service: ServiceRef, health: Health, now: number) => Option.Option<Notification>
  /** `target` took `notification`. */
  readonly delivered: (target: string, service: ServiceRef, notification: Notification, now: number) => void
  /** Writes the state file, when there is one and something changed since the last write. */
  readonly persist: Effect.Effect<void>
  /** Every track, by (target, service): handed to the next configuration on a live reload, never changed by anyone else. */
  readonly tracks: Map<string, Track>
}

export class Policy extends Context.Tag("reporter/Policy")<Policy, PolicyService>() {}

const keyOf = (target: string, s: ServiceRef) => JSON.stringify([target, s.name, s.environment])

const StateFile = Schema.parseJson(Schema.Struct({ version: Schema.Literal(1), tracks: Schema.Record({ key: Schema.String, value: Track }) }))

export interface PolicyOptions {
  /** Each target's policy, by target name. */
  readonly policies: ReadonlyMap<string, NotifyPolicy>
  readonly inMaintenance: InMaintenance
  /** Where state survives a restart; none: a restart starts afresh. */
  readonly stateFile: Option.Option<string>
  /**
   * The tracks, kept by the caller across live reloads (Program.ts); when
   * given, the state file is not read (what is in memory is newer) and is
   * written after the next cycle.
   */
  readonly tracks?: Map<string, Track>
  /** The configured services: tracks read from the state file for others (or for targets no longer configured) are dropped. */
  readonly services?: ReadonlyArray<ServiceRef>
}

/** Forgets the tracks of (target, service) pairs that `keep` does not; returns how many. */
export const pruneTracks = (tracks: Map<string, Track>, keep: (target: string, service: ServiceRef) => boolean): number => {
  let pruned = 0
  for (const key of tracks.keys()) {
    const [target, name, environment] = JSON.parse(key) as [string, string, string]
    if (!keep(target, { name, environment })) {
      tracks.delete(key)
      pruned++
    }
  }
  return pruned
}

/**
 * The policy service. With a state file, its tracks are loaded at start
 * (a corrupt or unreadable file: a warning, and an empty start) and written
 * atomically (a temporary file, then rename) after a cycle that changed them.
 */
export const layer = (options: PolicyOptions): Layer.Layer<Policy, never, FileSystem.FileSystem> =>
  Layer.effect(
    Policy,
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const initial = options.tracks !== undefined ? options.tracks : yield* Option.match(options.stateFile, {
        onNone: () => Effect.succeed(new Map<string, Track>()),
        onSome: (file) =>
          fs.readFileString(file).pipe(
            Effect.flatMap((text) => Schema.decode(StateFile)(text)),
            Effect.map((state) => new Map(Object.entries(state.tracks))),
            Effect.catchAll((e) =>
              e._tag === "SystemError" && e.reason === "NotFound"
                ? Effect.succeed(new Map<string, Track>())
                : Effect.as(
                    Effect.logWarning(`reporter.state_file ${file} cannot be read (${e._tag === "ParseError" ? "not a state file of this program" : e.message}): starting with no notification state`),
                    new Map<string, Track>()
                  )
            )
          )
      })
      // Owned by this service alone: one Map, updated in place
      // (a copy per update would cost O(targets × services) per reading).
      const tracks = options.tracks ?? new Map<string, Track>(initial)
      let dirty = options.tracks !== undefined
      if (options.tracks === undefined && options.services !== undefined) {
        // A state file written under an older configuration.
        const configured = new Set(options.services.map((s) => keyOf("", s)))
        dirty = pruneTracks(tracks, (target, service) => options.policies.has(target) && configured.has(keyOf("", service))) > 0
      }
      const same = (a: Track, b: Track) =>
        a.candidate === b.candidate && a.streak === b.streak && a.effective === b.effective && a.delivered === b.delivered && a.lastSentAt === b.lastSentAt && a.maintained === b.maintained
      const update = (key: string, f: (t: Track) => Track) => {
        const before = tracks.get(key) ?? FRESH
        const after = f(before)
        if (same(after, before)) return
        tracks.set(key, after)
        dirty = true
      }

      const decide: PolicyService["decide"] = (target, service, health, now) => {
        const policy = options.policies.get(target)
        if (policy === undefined) return Option.some(notificationFor(service, health))
        const key = keyOf(target, service)
        const current = tracks.get(key) ?? FRESH
        const next = due(policy, observe(policy, current, health.status), now, options.inMaintenance(service, health, now))
        update(key, () => next.track)
        return Option.map(next.due, (d) => notificationOf(service, health, d, next.track.effective))
      }

      const delivered: PolicyService["delivered"] = (target, service, notification, now) =>
        update(keyOf(target, service), (t) => ({ ...t, delivered: notification.status, lastSentAt: now, maintained: false }))

      const persist = Option.match(options.stateFile, {
        onNone: () => Effect.void,
        onSome: (file) =>
          Effect.gen(function* () {
            if (!dirty) return
            const text = yield* Schema.encode(StateFile)({ version: 1, tracks: Object.fromEntries(tracks) })
            const temporary = `${file}.${process.pid}.tmp`
            yield* fs.writeFileString(temporary, `${text}\n`)
            yield* fs.rename(temporary, file)
            dirty = false
          }).pipe(Effect.catchAll((e) => Effect.logWarning(`reporter.state_file ${file} cannot be written (${e.message}): the notification state lives on in memory`)))
      })

      return { decide, delivered, persist, tracks }
    })
  )

/** The policy of a kind of target when nothing is configured: dashboards de-duplicate, so they take every poll. */
export const defaultMode = (kind: "dashboard" | "notifier"): NotifyPolicy["mode"] => (kind === "dashboard" ? "every_poll" : "on_change")

/** A target's policy: its type's default, under the configuration's `notify:`, under its own `notify:`, key by key. */
export const policyFor = (
  defaultMode: NotifyPolicy["mode"],
  ...layers: ReadonlyArray<NotifySection | undefined>
): NotifyPolicy => {
  const merged = Object.assign({}, ...layers.filter((l) => l !== undefined)) as NotifySection
  const mode = merged.mode ?? defaultMode
  return {
    mode,
    repeatInterval: merged.repeat_interval ?? Duration.zero,
    // Unless told, a target that takes changes is told of recoveries too.
    sendResolved: merged.send_resolved ?? (merged.mode === undefined ? defaultMode === "on_change" : mode === "on_change"),
    failureThreshold: merged.failure_threshold ?? 1,
    successThreshold: merged.success_threshold ?? 1
  }
}
