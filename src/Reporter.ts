/**
 * The use case: one poll cycle over every configured service, and the loop
 * that repeats it. Talks only to the ports (Convertor, Dashboard) and Clock.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { AppConfig, type ServiceRef } from "./Config.js"
import { Convertor, type ConvertorError, type Health, statusLabel } from "./Convertor.js"
import { Dashboard, type DashboardError, notificationFor } from "./Dashboard.js"

export type Outcome =
  | { readonly _tag: "Healthy"; readonly service: ServiceRef; readonly health: Health }
  | { readonly _tag: "Notified"; readonly service: ServiceRef; readonly health: Health }
  | { readonly _tag: "NoData"; readonly service: ServiceRef }
  | { readonly _tag: "ReadFailed"; readonly service: ServiceRef; readonly error: ConvertorError }
  | { readonly _tag: "NotifyFailed"; readonly service: ServiceRef; readonly health: Health; readonly error: DashboardError }
  /** Not finished when the cycle's time (one poll interval) ran out. */
  | { readonly _tag: "OutOfTime"; readonly service: ServiceRef }
  /** A bug of ours met while polling this service; the others go on. */
  | { readonly _tag: "Defect"; readonly service: ServiceRef }

export interface CycleSummary {
  readonly polled: number
  readonly healthy: number
  /** Status above 0: degraded, outage, or any higher value the convertor sends. */
  readonly degraded: number
  readonly notified: number
  readonly noData: number
  readonly failed: number
  readonly duration: Duration.Duration
}

const why = (health: Health): Record<string, string> => ({
  ...(health.matchedExpression ? { matched_expression: health.matchedExpression } : {}),
  ...(health.triggeredMetrics.length > 0 ? { triggered_metrics: health.triggeredMetrics.join(",") } : {}),
  ...(health.region ? { region: health.region } : {})
})

/** Reads one service and, when it is not healthy, notifies. Never fails: a failure is an outcome. */
export const pollService = (service: ServiceRef): Effect.Effect<Outcome, never, Convertor | Dashboard> =>
  Effect.gen(function* () {
    const convertor = yield* Convertor
    const dashboard = yield* Dashboard
    yield* Effect.logDebug(`Polling convertor for service: ${service.name}`)
    const reading = yield* Effect.either(convertor.health(service))
    if (reading._tag === "Left") {
      // No notification: we would be sending stale or invented data.
      yield* Effect.logError(reading.left.message)
      return { _tag: "ReadFailed", service, error: reading.left } as const
    }
    if (Option.isNone(reading.right)) {
      yield* Effect.logInfo("No data from convertor for this window: nothing sent")
      return { _tag: "NoData", service } as const
    }
    const health = reading.right.value
    const line = `Health status: ${health.status} (${statusLabel(health.status)})`
    if (health.status === 0) {
      yield* Effect.logDebug(line)
      return { _tag: "Healthy", service, health } as const
    }
    yield* Effect.logInfo(line).pipe(Effect.annotateLogs(why(health)))
    const sent = yield* Effect.either(dashboard.notify(notificationFor(service, health)))
    if (sent._tag === "Left") {
      yield* Effect.logError(sent.left.message)
      return { _tag: "NotifyFailed", service, health, error: sent.left } as const
    }
    yield* Effect.logInfo("Sent notification to dashboard: success")
    return { _tag: "Notified", service, health } as const
  }).pipe(
    Effect.catchAllDefect((defect) =>
      Effect.logError(`Internal error while polling this service (please report it): ${String(defect).split("\n")[0]}`).pipe(
        Effect.as({ _tag: "Defect", service } as const)
      )
    ),
    Effect.annotateLogs({ service: service.name, environment: service.environment })
  )

export const summarize = (outcomes: ReadonlyArray<Outcome>, duration: Duration.Duration): CycleSummary => {
  const count = (f: (o: Outcome) => boolean) => outcomes.filter(f).length
  return {
    polled: outcomes.length,
    healthy: count((o) => o._tag === "Healthy"),
    degraded: count((o) => o._tag === "Notified" || o._tag === "NotifyFailed"),
    notified: count((o) => o._tag === "Notified"),
    noData: count((o) => o._tag === "NoData"),
    failed: count((o) => o._tag !== "Healthy" && o._tag !== "Notified" && o._tag !== "NoData"),
    // Counts only: a summary outlives its cycle, and must not hold the cycle's errors and readings.
    duration
  }
}

/**
 * Every service once, at most `reporter.concurrency` at a time, within one
 * poll interval (services not done by then are counted as failed, and the
 * next cycle starts on time), then one summary line.
 */
export const runCycle: Effect.Effect<CycleSummary, never, AppConfig | Convertor | Dashboard> = Effect.gen(function* () {
  const config = yield* AppConfig
  const started = yield* Clock.currentTimeMillis
  const deadline = started + Duration.toMillis(config.pollInterval)
  const outOfTime = (service: ServiceRef): Outcome => ({ _tag: "OutOfTime", service })
  const withinCycle = (service: ServiceRef) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      now >= deadline
        ? Effect.succeed(outOfTime(service))
        : pollService(service).pipe(
            Effect.timeoutOption(Duration.millis(deadline - now)),
            Effect.map(Option.getOrElse(() => outOfTime(service)))
          )
    )
  const outcomes = yield* Effect.forEach(config.services, withinCycle, { concurrency: config.concurrency })
  const late = outcomes.filter((o) => o._tag === "OutOfTime").length
  if (late > 0) {
    yield* Effect.logWarning(
      `${late} service(s) not done within reporter.poll_interval (${Duration.format(config.pollInterval)}): nothing was sent for them; raise reporter.concurrency or the interval, or look for a slow convertor or dashboard`
    )
  }
  const finished = yield* Clock.currentTimeMillis
  const summary = summarize(outcomes, Duration.millis(finished - started))
  const line =
    `Cycle complete: polled=${summary.polled} healthy=${summary.healthy} degraded=${summary.degraded} ` +
    `notified=${summary.notified} no_data=${summary.noData} failed=${summary.failed} ` +
    `duration=${(Duration.toMillis(summary.duration) / 1000).toFixed(2)}s`
  yield* summary.failed > 0 ? Effect.logWarning(line) : Effect.logInfo(line)
  if (Duration.greaterThan(summary.duration, config.pollInterval)) {
    yield* Effect.logWarning(
      `Cycle took ${Duration.format(summary.duration)}, longer than reporter.poll_interval (${Duration.format(config.pollInterval)}): the next cycle starts at once; raise reporter.concurrency or the interval`
    )
  }
  return summary
})

/**
 * Polls at once, then every `poll_interval`, measured from the start of one
 * cycle to the start of the next: health windows stay evenly spaced. A cycle
 * that overruns is followed at once by the next, and missed cycles are not
 * made up (no pile-up). (`Schedule.fixed` would do the same, except that it
 * anchors at the end of the first run, so a slow first cycle would delay the
 * second by a whole extra interval.)
 */
export const runForever = (
  afterCycle: (summary: CycleSummary) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<never, never, AppConfig | Convertor | Dashboard> =>
  Effect.gen(function* () {
    const config = yield* AppConfig
    const interval = Duration.toMillis(config.pollInterval)
    const pacing = Schedule.identity<CycleSummary>().pipe(
      Schedule.addDelay((summary) => Duration.millis(Math.max(0, interval - Duration.toMillis(summary.duration))))
    )
    return yield* runCycle.pipe(Effect.tap(afterCycle), Effect.repeat(pacing), Effect.zipRight(Effect.never))
  })
