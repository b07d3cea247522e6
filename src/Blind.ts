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
import { AppConfig } from "./Config.js"
import { isoSeconds, type Notification, type ServiceRef } from "./Domain.js"
import { logErrorAlways } from "./Logging.js"
import { count } from "./Metrics.js"
import type { CycleSummary } from "./Summary.js"
import { Targets } from "./Target.js"
import { REGISTRY, type TargetType } from "./Target/registry.js"

export const MONITORING: ServiceRef = { name: "cloudmon-metrics-reporter", environment: "monitoring" }

/** After each cycle of a daemon: counts, and tells the notifiers when monitoring goes blind and when it sees again. */
export const watchBlindness = () => {
  let streak = 0
  let since: number | undefined
  let told = false

  const tell = (n: Notification) =>
    Effect.gen(function* () {
      const config = yield* AppConfig
      const ports = yield* Targets
      const chosen = new Set(
        config.targets
          .filter((t) => REGISTRY[t.type as TargetType].kind === "notifier" && (t.settings as { blind_alerts?: boolean }).blind_alerts !== false)
          .map((t) => t.name)
      )
      yield* Effect.forEach(
        ports.filter((p) => chosen.has(p.name)),
        (port) =>
          port.notify(n).pipe(
            Effect.matchEffect({
              onFailure: (e) => logErrorAlways(`Could not tell ${port.name} that monitoring ${n.status === 0 ? "sees again" : "is blind"}: ${e.message}`),
              onSuccess: (d) => (d._tag === "Delivered" ? Effect.logInfo(`Told ${port.name} that monitoring ${n.status === 0 ? "sees again" : "is blind"}`) : Effect.void)
            })
          ),
        { concurrency: "unbounded", discard: true }
      )
    })

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
        if (streak < config.reporter.blind_after || told) return
        told = true
        const why = `every read of the convertor failed for ${streak} cycles in a row since ${isoSeconds(since)} (${summary.polled} service(s)): ${summary.readError ?? "no answer"}`
        yield* logErrorAlways(`Monitoring is blind: ${why}; the notifiers are told`)
        yield* tell({ service: MONITORING, status: 2, message: "Monitoring is blind", timestamp: new Date(since), why, previous: 0, due: "status" })
        return
      }
      if (told) {
        yield* Effect.logInfo(`Monitoring sees again: the convertor answers (blind since ${isoSeconds(since ?? now)}); the notifiers are told`)
        yield* tell({ service: MONITORING, status: 0, message: "Monitoring sees again", timestamp: new Date(now), previous: 2, due: "resolved" })
      }
      streak = 0
      since = undefined
      told = false
    })
}
