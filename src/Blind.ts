/**
 * Never go blind silently. When every read of a cycle fails for
 * `reporter.blind_after` cycles in a row (the convertor down, its backend
 * gone), nothing reaches the notifiers, and yet nothing is healthy: the
 * notifiers are told once that monitoring is blind (the cause, since when,
 * how many services), and once when a read succeeds again. Dashboards are
 * not told (a status page shows services, not the monitoring); a notifier
 * opts out with `blind_alerts: false`. The notice is a notification of its
 * own service, `cloudmon-metrics-reporter` in `monitoring` (PagerDuty
 * de-duplicates and resolves it by that key; Slack says it as any other).
 * `cloudmon_reporter_convertor_up` says the same to Prometheus each cycle.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { FRESH, keyOf, PolicyStore } from "./PolicyStore.js"
import { AppConfig } from "./Config.js"
import { isoSeconds, MONITORING, type Notification } from "./Domain.js"
import { logErrorAlways } from "./Logging.js"
import { count } from "./Metrics.js"
import type { CycleSummary } from "./Summary.js"
import { Targets } from "./Target.js"
import { REGISTRY, type TargetType } from "./Target/registry.js"

export { MONITORING }

/** After each cycle of a daemon: counts, and tells the notifiers when monitoring goes blind and when it sees again. */
export const watchBlindness = () => {
  let streak = 0
  let since: number | undefined
  /**
   * The notifiers that have the blind notice (and not yet the all-clear):
   * each is retried until it takes it. Kept in the policy's store when there
   * is one (a track of MONITORING per notifier), so that it outlives a
   * restart with a state file and passes to a new leader (ha), which then
   * sends the all-clear the old one owed; in memory otherwise.
   */
  const local = new Set<string>()
  const told = Effect.map(Effect.serviceOption(PolicyStore), (store) =>
    Option.match(store, {
      onNone: () => ({ has: (name: string) => local.has(name), add: (name: string) => void local.add(name), delete: (name: string) => void local.delete(name) }),
      onSome: (st) => ({
        has: (name: string) => st.get(keyOf(name, MONITORING)).delivered === 2,
        add: (name: string) => st.set(keyOf(name, MONITORING), { ...FRESH, candidate: 2, effective: 2, delivered: 2, lastSentAt: Date.now() }),
        delete: (name: string) => st.set(keyOf(name, MONITORING), FRESH)
      })
    })
  )
  let blind = false

  /** Tells each of `names` (the notifiers still to be told); those that took it are returned. */
  const tell = (n: Notification, names: ReadonlySet<string>) =>
    Effect.gen(function* () {
      const ports = yield* Targets
      const took = yield* Effect.forEach(
        ports.filter((p) => names.has(p.name)),
        (port) =>
          port.notify(n).pipe(
            Effect.matchEffect({
              onFailure: (e) => Effect.as(logErrorAlways(`Could not tell ${port.name} that monitoring ${n.status === 0 ? "sees again" : "is blind"} (tried again next cycle): ${e.message}`), undefined),
              onSuccess: (d) =>
                d._tag === "Delivered"
                  ? Effect.as(Effect.logInfo(`Told ${port.name} that monitoring ${n.status === 0 ? "sees again" : "is blind"}`), port.name)
                  : Effect.as(Effect.logDebug(`Not told ${port.name} that monitoring ${n.status === 0 ? "sees again" : "is blind"} yet: ${d.why}`), d.final ? port.name : undefined)
            })
          ),
        { concurrency: "unbounded" }
      )
      return took.filter((name) => name !== undefined)
    })

  const notifiers = Effect.map(AppConfig, (config) =>
    new Set(
      config.targets
        .filter((t) => REGISTRY[t.type as TargetType].kind === "notifier" && (t.settings as { blind_alerts?: boolean }).blind_alerts !== false)
        .map((t) => t.name)
    )
  )

  return (summary: CycleSummary): Effect.Effect<void, never, AppConfig | Targets> =>
    Effect.gen(function* () {
      if (summary.polled === 0) return
      const blindNow = summary.readFailed === summary.polled
      yield* count((m) => m.convertorUp(!blindNow))
      const config = yield* AppConfig
      const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
      if (blindNow) {
        streak += 1
        since ??= now
        if (streak < config.reporter.blind_after) return
        const why = `every read of the convertor failed for ${streak} cycles in a row since ${isoSeconds(since)} (${summary.polled} service(s)): ${summary.readError ?? "no answer"}`
        if (!blind) yield* logErrorAlways(`Monitoring is blind: ${why}; the notifiers are told`)
        blind = true
        // Each notifier is told once; one that did not take it is tried again next cycle.
        const memory = yield* told
        const pending = new Set([...(yield* notifiers)].filter((name) => !memory.has(name)))
        if (pending.size === 0) return
        for (const name of yield* tell({ service: MONITORING, status: 2, message: "Monitoring is blind", timestamp: new Date(since), why, previous: 0, due: "status" }, pending)) memory.add(name)
        return
      }
      streak = 0
      since = undefined
      if (blind) yield* Effect.logInfo("Monitoring sees again: the convertor answers; the notifiers are told")
      blind = false
      // A notifier a reload removed is not waited for (nor is its memory kept: PolicyStore forgets a removed target).
      const memory = yield* told
      const owed = new Set([...(yield* notifiers)].filter((name) => memory.has(name)))
      if (owed.size === 0) return
      // The all-clear to each notifier that had the notice; one that did not take it is tried again next cycle.
      for (const name of yield* tell({ service: MONITORING, status: 0, message: "Monitoring sees again", timestamp: new Date(now), previous: 2, due: "resolved" }, owed)) memory.delete(name)
    })
}
