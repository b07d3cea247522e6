/**
 * The port every notification target implements: the status dashboard and
 * each notifier. What a type is (keys, secrets, kind) is in
 * Target/registry.ts; how its port is built is its adapter, Target/<Type>.ts,
 * chosen by `type` in Target/adapters.ts.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import type { Notification, ServiceRef } from "./Domain.js"
import { type PeerErrorFields, who } from "./PeerError.js"
import type { RateLimits } from "./RateLimits.js"
import type { TargetSpec } from "./Target/registry.js"
import type { Request, Transport } from "./Transport.js"

type Reason = "AuthFailed" | "Rejected" | "Unavailable" | "Timeout" | "BadResponse"

const MESSAGES: { readonly [R in Reason]: (e: TargetError) => string } = {
  // The adapter's detail names the credential to check (`status_dashboard.secret`, `notifiers[1].api_key`).
  AuthFailed: (e) => `${e.label} authentication failed: ${e.detail} (${e.status ?? "?"} from ${e.peer} for ${who(e.service)})`,
  Rejected: (e) => `${e.label} at ${e.peer} rejected the notification for ${who(e.service)} (${e.status ?? "?"}${e.detail ? `: ${e.detail}` : ""})`,
  Unavailable: (e) => `${e.label} at ${e.peer} unavailable while notifying ${who(e.service)}: ${e.detail}`,
  Timeout: (e) => `${e.label} at ${e.peer} timed out while notifying ${who(e.service)}: ${e.detail}`,
  BadResponse: (e) => `${e.label} at ${e.peer} sent an unreadable answer for ${who(e.service)}: ${e.detail}`
}

export class TargetError extends Data.TaggedError("TargetError")<
  PeerErrorFields<Reason> & {
    /** Which target: `Dashboard` (the primary), or `Notifier "oncall" (pagerduty)`. */
    readonly label: string
    /** A refusal that would come back the same, after which the target is held back (Target/Holds.ts). */
    readonly refused?: boolean
    /** Held by a rate limit (this one) past the budget: not a failure; it stays due (Target/Sender.ts). */
    readonly rateLimit?: string
  }
> {
  override get message(): string {
    return MESSAGES[this.reason](this)
  }
}

/** What became of one notification at one target. */
export type Delivery =
  | { readonly _tag: "Delivered" }
  /**
   * Deliberately not sent, said at `level`, not a failure. `final`: nothing
   * will change by trying again (no component configured, no incident to
   * close), so the policy takes it as done; otherwise (a component under
   * maintenance, or not on the dashboard yet) it stays due.
   */
  | { readonly _tag: "Skipped"; readonly why: string; readonly level: "warn" | "info" | "debug"; readonly final: boolean }

export const DELIVERED: Delivery = { _tag: "Delivered" }

export interface TargetPort {
  /** The target's label in logs and the summary: `dashboard`, or a notifier's name (default `type#index`). */
  readonly name: string
  /** Shown in logs: the target's kind and URL, never its credentials. */
  readonly target: string
  /** Delivers one notification, retries included; fails only when it was not delivered. */
  readonly notify: (notification: Notification) => Effect.Effect<Delivery, TargetError>
  /**
   * `--dry-run`: builds and signs the request `notify` would send, and
   * describes it (method, URL, body; never a credential). Sends nothing.
   */
  readonly rehearse: (notification: Notification) => Effect.Effect<string, TargetError>
  /**
   * Takes a cycle's notifications together (chat: one message that lists
   * what changed, split only where the platform's limits require). Each
   * notification's result goes to `done` (by its index) as soon as the
   * request that carried it is answered, so what a peer took is recorded
   * even if the rest is cut short; it never fails as a whole. Absent: one
   * `notify` each.
   */
  readonly notifyMany?: (
    notifications: ReadonlyArray<Notification>,
    done: (index: number, outcome: Either.Either<Delivery, TargetError>) => Effect.Effect<void>
  ) => Effect.Effect<void>
  /**
   * At most this many of its notifications at a time, whatever
   * `reporter.concurrency` is (Stackmon: 1, its server groups incidents
   * with an unlocked read-then-write). Absent: `reporter.concurrency`.
   */
  readonly concurrency?: number
  /**
   * What the target was found showing when it was built, for services the
   * policy may not know it told (after a restart without a state file): the
   * policy takes each as delivered, so a recovery still reaches it.
   */
  readonly shown?: ReadonlyArray<{ readonly service: ServiceRef; readonly status: number }>
}

/** Every target, the primary dashboard first: the cycle notifies them all, each on its own. */
export class Targets extends Context.Tag("reporter/Targets")<Targets, ReadonlyArray<TargetPort>>() {}

export type { TargetSpec } from "./Target/registry.js"

/** How messages name a target. */
export const labelOf = (spec: Pick<TargetSpec, "path" | "name" | "type">): string =>
  spec.path === "status_dashboard" ? "Dashboard" : `Notifier "${spec.name}" (${spec.type})`

/** A target that cannot start (Stackmon's components could not be read): exit 1 with this message. */
export class TargetStartError extends Data.TaggedError("TargetStartError")<{ readonly message: string }> {}

/** What every adapter is given besides its own settings. */
export interface AdapterContext {
  /** The phase budget each notification must be delivered within, retries included. */
  readonly budget: Duration.Duration
  readonly services: ReadonlyArray<ServiceRef>
}

/** How a target type's port is built (its keys and secrets are its entry in Target/registry.ts). */
export interface Adapter<Settings = unknown> {
  readonly make: (spec: TargetSpec<Settings>, context: AdapterContext) => Effect.Effect<TargetPort, TargetStartError, Transport | RateLimits | Scope.Scope>
  /**
   * `validate --connect`: the protocol's read-only request that needs our
   * credentials, where it has one (Target/Check.ts; undefined: none in
   * this configuration); fails with what stopped it from being built.
   */
  readonly readOnly?: (spec: TargetSpec<Settings>) => Effect.Effect<{ readonly request: Request; readonly what: string } | undefined, string>
  /**
   * `validate --connect` for a protocol that needs more than one request to
   * tell (Stackmon: its components, then its credentials, then each
   * service's component): one line per finding, instead of `readOnly`.
   */
  readonly check?: (spec: TargetSpec<Settings>, services: ReadonlyArray<ServiceRef>) => Effect.Effect<ReadonlyArray<{ readonly ok: boolean; readonly line: string }>, never, Transport>
}
