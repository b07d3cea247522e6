/**
 * What a cycle comes to: each service's outcome, and the counts that
 * outlive the cycle (counts only: a summary must not hold a cycle's errors
 * and readings), with the one line that says them.
 */
import * as Duration from "effect/Duration"
import type { ServiceRef } from "./Domain.js"

/** What became of one notification at one target; strings only, so a summary holds no errors or readings. */
export type TargetResult = "delivered" | "skipped" | "deferred" | "failed" | "rehearsed"

export type Outcome =
  /** Healthy; a recovery may have been sent to some targets. */
  | { readonly _tag: "Healthy"; readonly service: ServiceRef; readonly targets?: Readonly<Record<string, TargetResult>> }
  /** Unhealthy, and no target is due a notification (on_change: nothing changed; a threshold not met; maintenance). */
  | { readonly _tag: "Held"; readonly service: ServiceRef; readonly status: number }
  /** Every target delivered (or deliberately skipped) its notification. */
  | { readonly _tag: "Notified"; readonly service: ServiceRef; readonly status: number; readonly targets: Readonly<Record<string, TargetResult>> }
  /** --dry-run: the notifications were built and signed, not sent. */
  | { readonly _tag: "Rehearsed"; readonly service: ServiceRef; readonly status: number; readonly targets: Readonly<Record<string, TargetResult>> }
  /** At least one target did not get its notification. */
  | { readonly _tag: "NotifyFailed"; readonly service: ServiceRef; readonly status: number; readonly targets: Readonly<Record<string, TargetResult>> }
  | { readonly _tag: "NoData"; readonly service: ServiceRef }
  /** The newest point is outside the query window (or ahead of our clock): nothing sent. */
  | { readonly _tag: "Stale"; readonly service: ServiceRef }
  /** The read failed (after its retries); `why`, the error's message, is kept for the blind alert (Blind.ts). */
  | { readonly _tag: "ReadFailed"; readonly service: ServiceRef; readonly why?: string }
  /** Started, but not finished when the cycle's time (one poll interval) ran out. */
  | { readonly _tag: "OutOfTime"; readonly service: ServiceRef }
  /** Not even started within the cycle's time: first in line next cycle. */
  | { readonly _tag: "Late"; readonly service: ServiceRef }
  /** A bug of ours met while polling this service; the others go on. */
  | { readonly _tag: "Defect"; readonly service: ServiceRef }

/** Each service's state after a cycle, for the `cloudmon_reporter_services` gauge: its health, or why there is none. */
export type ServiceState = "healthy" | "degraded" | "outage" | "no_data" | "stale" | "failed" | "unknown" | "late"
export const SERVICE_STATES: ReadonlyArray<ServiceState> = ["healthy", "degraded", "outage", "no_data", "stale", "failed", "unknown", "late"]

/** A service read fine is in its health's state (a notification that failed is counted per target, not here). */
export const stateOf = (o: Outcome): ServiceState => {
  switch (o._tag) {
    case "Healthy":
      return "healthy"
    case "Held":
    case "Notified":
    case "Rehearsed":
    case "NotifyFailed":
      return o.status === 0 ? "healthy" : o.status === 1 ? "degraded" : "outage"
    case "NoData":
      return "no_data"
    case "Stale":
      return "stale"
    case "Late":
      return "late"
    default:
      return "failed"
  }
}

export interface CycleSummary {
  /** Services actually read (or tried): all but the late ones. */
  readonly polled: number
  readonly healthy: number
  /** Status above 0: degraded, outage, or any higher value the convertor sends. */
  readonly degraded: number
  readonly notified: number
  readonly dryRun: number
  readonly noData: number
  readonly stale: number
  readonly failed: number
  /** Not reached within the cycle's time. */
  readonly late: number
  /** Reads that failed, and the first one's message (one string: the blind alert's cause). */
  readonly readFailed: number
  readonly readError?: string
  /** Services whose reads have failed for `reporter.blind_after` cycles in a row: their health is unknown. */
  readonly unknown: number
  /** Per target: notifications delivered (or rehearsed) of those attempted (skipped ones are not attempted). */
  readonly targets: Readonly<Record<string, { readonly delivered: number; readonly attempted: number }>>
  /** Every service in exactly one state. */
  readonly states: Readonly<Record<ServiceState, number>>
  readonly duration: Duration.Duration
}

export const summarize = (outcomes: ReadonlyArray<Outcome>, duration: Duration.Duration, unknown: (service: ServiceRef) => boolean = () => false): CycleSummary => {
  const counts: Record<Outcome["_tag"], number> = {
    Healthy: 0, Held: 0, Notified: 0, Rehearsed: 0, NoData: 0, Stale: 0, ReadFailed: 0, NotifyFailed: 0, OutOfTime: 0, Late: 0, Defect: 0
  }
  const targets: Record<string, { delivered: number; attempted: number }> = {}
  const states = Object.fromEntries(SERVICE_STATES.map((s) => [s, 0])) as Record<ServiceState, number>
  let readError: string | undefined
  let cutOff = false
  for (const o of outcomes) {
    counts[o._tag]++
    const unread = o._tag === "ReadFailed" || o._tag === "OutOfTime" || o._tag === "Defect"
    const state = unread && unknown(o.service) ? "unknown" : stateOf(o)
    states[state]++
    if (o._tag === "ReadFailed" && o.why !== undefined) readError = o.why
    else if (o._tag === "OutOfTime") cutOff = true
    if (!("targets" in o)) continue
    for (const [name, result] of Object.entries(o.targets)) {
      const t = (targets[name] ??= { delivered: 0, attempted: 0 })
      if (result !== "skipped" && result !== "deferred") t.attempted++
      if (result === "delivered" || result === "rehearsed") t.delivered++
    }
  }
  // Counts only: a summary outlives its cycle, and must not hold the cycle's errors and readings.
  return {
    polled: outcomes.length - counts.Late,
    healthy: counts.Healthy,
    degraded: counts.Notified + counts.Rehearsed + counts.NotifyFailed + counts.Held,
    notified: counts.Notified,
    dryRun: counts.Rehearsed,
    noData: counts.NoData,
    stale: counts.Stale,
    failed: counts.ReadFailed + counts.NotifyFailed + counts.OutOfTime + counts.Defect,
    late: counts.Late,
    // A read cut off by the cycle's deadline, or met by a bug of ours, did not read either (a hung convertor).
    readFailed: counts.ReadFailed + counts.OutOfTime + counts.Defect,
    ...(readError !== undefined ? { readError } : cutOff ? { readError: "reads not answered within the cycle (a convertor that hangs)" } : {}),
    unknown: states.unknown,
    targets,
    states,
    duration
  }
}

/** The figures of a cycle, as fields: each health apart, and what the targets took. */
export const summaryFields = (summary: CycleSummary, dryRun: boolean): Record<string, unknown> => {
  const totals = Object.values(summary.targets).reduce((a, t) => ({ delivered: a.delivered + t.delivered, attempted: a.attempted + t.attempted }), { delivered: 0, attempted: 0 })
  return {
    polled: summary.polled,
    healthy: summary.states.healthy,
    degraded: summary.states.degraded,
    outage: summary.states.outage,
    no_data: summary.noData,
    stale: summary.stale,
    failed: summary.failed,
    unknown: summary.unknown,
    late: summary.late,
    // Notifications across every target: delivered (or, in a dry run, rehearsed) of those attempted.
    [dryRun ? "rehearsed" : "sent"]: totals.delivered,
    attempted: totals.attempted,
    duration_seconds: Number((Duration.toMillis(summary.duration) / 1000).toFixed(2)),
    targets: Object.fromEntries(Object.entries(summary.targets).map(([name, t]) => [name, { delivered: t.delivered, attempted: t.attempted }]))
  }
}

/** `Cycle complete: polled=… sent=4/4 duration=…s targets: dashboard=2/2 slack=2/2`. */
export const summaryLine = (summary: CycleSummary, dryRun: boolean): string => {
  const f = summaryFields(summary, dryRun)
  return (
    `Cycle complete: polled=${summary.polled} healthy=${f["healthy"]} degraded=${f["degraded"]} outage=${f["outage"]} ` +
    `no_data=${summary.noData} stale=${summary.stale} failed=${summary.failed} ${summary.unknown > 0 ? `unknown=${summary.unknown} ` : ""}late=${summary.late} ` +
    `${dryRun ? "rehearsed" : "sent"}=${f[dryRun ? "rehearsed" : "sent"]}/${f["attempted"]} ` +
    `duration=${(Duration.toMillis(summary.duration) / 1000).toFixed(2)}s` +
    (Object.keys(summary.targets).length === 0
      ? ""
      : ` targets: ${Object.entries(summary.targets).map(([name, t]) => `${name}=${t.delivered}/${t.attempted}`).join(" ")}`)
  )
}
