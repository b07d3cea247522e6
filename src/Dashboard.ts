/**
 * The port every notification target implements. Adapters live in
 * Dashboard/, one file each, and are chosen by `status_dashboard.type` from
 * the table in Dashboard/adapters.ts.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type { Notification } from "./Domain.js"
import { type PeerErrorFields, who } from "./PeerError.js"
import type { Transport } from "./Transport.js"

type Reason = "AuthFailed" | "Rejected" | "Unavailable" | "Timeout" | "BadResponse"

const MESSAGES: { readonly [R in Reason]: (e: DashboardError) => string } = {
  AuthFailed: (e) => `Dashboard authentication failed: check status_dashboard.secret (${e.status ?? "?"} from ${e.peer} for ${who(e.service)})`,
  Rejected: (e) => `Dashboard at ${e.peer} rejected the notification for ${who(e.service)} (${e.status ?? "?"}${e.detail ? `: ${e.detail}` : ""})`,
  Unavailable: (e) => `Dashboard at ${e.peer} unavailable while notifying ${who(e.service)}: ${e.detail}`,
  Timeout: (e) => `Dashboard at ${e.peer} timed out while notifying ${who(e.service)}: ${e.detail}`,
  BadResponse: (e) => `Dashboard at ${e.peer} sent an unreadable answer for ${who(e.service)}: ${e.detail}`
}

export class DashboardError extends Data.TaggedError("DashboardError")<PeerErrorFields<Reason>> {
  override get message(): string {
    return MESSAGES[this.reason](this)
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

/** What the configuration gives every dashboard adapter (`status_dashboard`, its secret resolved). */
export interface TargetSettings {
  readonly url: string
  readonly secret: Redacted.Redacted<string>
  readonly timeout: Duration.Duration
}

/** An adapter: its settings and the phase budget it must deliver within, to the port. */
export type Adapter = (settings: TargetSettings, budget: Duration.Duration) => Layer.Layer<Dashboard, never, Transport>
