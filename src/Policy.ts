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
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { NotifySection } from "./Fields.js"
import { type Health, type Notification, notificationFor, type ServiceRef, serviceId } from "./Domain.js"
import { keyOf, PolicyStore, type Track } from "./PolicyStore.js"
import { type CommonSettings, REGISTRY, type TargetSpec, type TargetType } from "./Target/registry.js"
import { routeOf } from "./Fields.js"

export { FRESH, type Track } from "./PolicyStore.js"

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
 * One configuration's policy over the daemon's tracks (PolicyStore.ts).
 * `decide` and `delivered` are plain synchronous calls on the cycle's hot
 * path (once per service and target): only what does I/O, `persist`, is an Effect.
 */
export interface PolicyService {
  /** Observes a current reading for `target` and says what, if anything, to tell it. */
  readonly decide: (target: string, service: ServiceRef, health: Health, now: number) => Option.Option<Notification>
  /** `target` took `notification`. */
  readonly delivered: (target: string, service: ServiceRef, notification: Notification, now: number) => void
  /** Saves the tracks (the store's backend), when something changed since the last save. */
  readonly persist: Effect.Effect<void>
}

export class Policy extends Context.Tag("reporter/Policy")<Policy, PolicyService>() {}

export interface PolicyOptions {
  /** Each target's policy, by target name. */
  readonly policies: ReadonlyMap<string, NotifyPolicy>
  /** Each target's routing (`match:`/`exclude:`), by target name: a service it is not for is never told to it. */
  readonly routes?: ReadonlyMap<string, (service: ServiceRef) => boolean>
  readonly inMaintenance: InMaintenance
  /** What targets were found showing (TargetPort.shown), by target name. */
  readonly shown?: ReadonlyArray<{ readonly target: string; readonly service: ServiceRef; readonly status: number }>
}

/**
 * What a target shows and the track does not know it was told (a restart
 * without a state file, a lost one) is taken as delivered: the next healthy
 * reading is then a recovery, and the target is told. A track that knows
 * of a delivery keeps its own.
 */
const adopt = (store: PolicyStore["Type"], shown: NonNullable<PolicyOptions["shown"]>): void => {
  for (const { service, status, target } of shown) {
    const key = keyOf(target, service)
    const track = store.get(key)
    if (track.delivered === 0 && status > 0) store.set(key, { ...track, delivered: status })
  }
}

/**
 * A target that was told a service is unhealthy, and that a new `match:` or
 * `exclude:` no longer routes it, would never hear of its recovery: said
 * once, when the configuration is taken up, so that someone closes it.
 */
const routedOut = (store: PolicyStore["Type"], options: PolicyOptions, services: ReadonlyArray<ServiceRef>) =>
  Effect.forEach(
    [...(options.routes ?? new Map())].flatMap(([target, route]) => services.filter((s) => !route(s) && store.get(keyOf(target, s)).delivered > 0).map((s) => [target, s] as const)),
    ([target, s]) =>
      Effect.logWarning(`${target} was told that ${s.name} in ${s.environment} is unhealthy, and its match/exclude no longer routes it there: it will not hear of a recovery; close that alert by hand, or route the service back`),
    { discard: true }
  )

export const layer = (options: PolicyOptions & { readonly services?: ReadonlyArray<ServiceRef> }): Layer.Layer<Policy, never, PolicyStore> =>
  Layer.effect(
    Policy,
    Effect.flatMap(PolicyStore, (store) => Effect.as(routedOut(store, options, options.services ?? []), store)).pipe(Effect.map((store): PolicyService => (adopt(store, options.shown ?? []), {
      decide: (target, service, health, now) => {
        const route = options.routes?.get(target)
        if (route !== undefined && !route(service)) return Option.none()
        const policy = options.policies.get(target)
        if (policy === undefined) return Option.some(notificationFor(service, health))
        const key = keyOf(target, service)
        const next = due(policy, observe(policy, store.get(key), health.status), now, options.inMaintenance(service, health, now))
        store.set(key, next.track)
        return Option.map(next.due, (d) => ({ ...notificationOf(service, health, d, next.track.effective), previous: next.track.delivered, due: d }))
      },
      delivered: (target, service, notification, now) => {
        const key = keyOf(target, service)
        store.set(key, { ...store.get(key), delivered: notification.status, lastSentAt: now, maintained: false })
      },
      persist: store.persist
    })))
  )

/** Each target's policy, by name: its type's defaults, under the configuration's `notify:`, under its own. */
export const policiesOf = (notify: NotifySection, targets: ReadonlyArray<TargetSpec>): ReadonlyMap<string, NotifyPolicy> =>
  new Map(
    targets.map((t) => {
      const type = REGISTRY[t.type as TargetType]
      return [t.name, policyFor(defaultMode(type.kind), KIND_DEFAULTS[type.kind], type.notify, notify, (t.settings as { notify?: NotifySection }).notify)]
    })
  )

/**
 * Each target's routing, by name, for the targets that have one: a service
 * is for the target when it matches every list `match:` gives, and not when
 * it matches every list `exclude:` gives (Fields.ts, `Selector`). Decided
 * once per service and target when a configuration is taken up, so the
 * cycle asks a Set.
 */
export const routesOf = (targets: ReadonlyArray<TargetSpec>, services: ReadonlyArray<ServiceRef>): ReadonlyMap<string, (service: ServiceRef) => boolean> =>
  new Map(
    targets.flatMap((t) => {
      const route = routeOf(t.settings as CommonSettings)
      if (route === undefined) return []
      const chosen = new Set(services.filter(route).map(serviceId))
      return [[t.name, (s: ServiceRef) => chosen.has(serviceId(s))] as const]
    })
  )

/**
 * What a kind of target takes by default, under its type's and the
 * configuration's `notify:`. A person is paged or pinged by a notifier: two
 * readings in a row before a trigger, and two before a recovery, so that a
 * flapping service (0,1,0,1) tells nobody and one bad reading wakes no one. A
 * dashboard shows the state as it is: every reading counts.
 */
const KIND_DEFAULTS: Record<"dashboard" | "notifier", NotifySection> = {
  dashboard: {},
  notifier: { failure_threshold: 2, success_threshold: 2 }
}

/** The policy of a kind of target when nothing is configured: dashboards de-duplicate, so they take every poll. */
export const defaultMode = (kind: "dashboard" | "notifier"): NotifyPolicy["mode"] => (kind === "dashboard" ? "every_poll" : "on_change")

/**
 * A target's policy: its kind's mode, under the layers key by key: its
 * type's `notify` (Stackmon sends recoveries), the configuration's
 * `notify:`, its own `notify:`.
 */
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
