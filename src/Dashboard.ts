/**
 * The port every notification target implements: the generic status
 * dashboard (the default), and later Stackmon, Statuspage, Slack, PagerDuty.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type { ServiceRef } from "./Config.js"
import type { Health } from "./Convertor.js"

export interface Notification {
  readonly service: ServiceRef
  /** The convertor's raw value, passed on unchanged. */
  readonly status: number
  readonly message: string
  /** When the convertor measured the status. */
  readonly timestamp: Date
}

export const notificationFor = (service: ServiceRef, health: Health): Notification => ({
  service,
  status: health.status,
  message:
    health.status === 1 ? "Service degraded" : health.status === 2 ? "Service outage" : `Service status ${health.status}`,
  timestamp: health.timestamp
})

export class DashboardError extends Data.TaggedError("DashboardError")<{
  readonly target: string
  readonly service: ServiceRef
  readonly reason: "AuthFailed" | "Rejected" | "Unavailable" | "Timeout" | "BadResponse"
  readonly detail: string
  readonly status?: number
  readonly retryable: boolean
  readonly retryAfter: Option.Option<Duration.Duration>
}> {
  override get message(): string {
    const who = `${this.service.name} in ${this.service.environment}`
    switch (this.reason) {
      case "AuthFailed":
        return `Dashboard authentication failed: check status_dashboard.secret (${this.status ?? "?"} from ${this.target} for ${who})`
      case "Rejected":
        return `Dashboard at ${this.target} rejected the notification for ${who} (${this.status ?? "?"}${this.detail ? `: ${this.detail}` : ""})`
      case "Unavailable":
        return `Dashboard at ${this.target} unavailable while notifying ${who}: ${this.detail}`
      case "Timeout":
        return `Dashboard at ${this.target} timed out while notifying ${who}: ${this.detail}`
      case "BadResponse":
        return `Dashboard at ${this.target} sent an unreadable answer for ${who}: ${this.detail}`
    }
  }
}

export interface DashboardPort {
  /** Shown in logs: the target's kind and URL, never its credentials. */
  readonly target: string
  /** Delivers one notification, retries included; fails only when it was not delivered. */
  readonly notify: (notification: Notification) => Effect.Effect<void, DashboardError>
  /**
   * `--dry-run`: builds and signs the request `notify` would send, and
   * describes it (method, URL, body; never a credential). Sends nothing.
   */
  readonly rehearse: (notification: Notification) => Effect.Effect<string, DashboardError>
}

export class Dashboard extends Context.Tag("reporter/Dashboard")<Dashboard, DashboardPort>() {}

/** Up to 3 retries (4 attempts), 1 s, 2 s, 4 s apart (jittered), within 45% of the poll interval. */
export const DASHBOARD_RETRY = { base: Duration.seconds(1), retries: 3 } as const

