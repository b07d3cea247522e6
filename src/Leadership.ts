/**
 * May this replica poll and send now? Without `ha`, always. With it, only
 * the holder of the Lease, and only while its last renewal is younger than
 * the renew deadline (fencing by time: Kube/Elector.ts): the loop waits for
 * leadership before each cycle, and a cycle stops reading and starting
 * notifications the moment it ends (one already on the wire may finish).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

export interface LeadershipService {
  /**
   * Whether this replica leads now, by a monotonic clock (a wall clock set
   * back must not extend a lease): checked before each read, each
   * notification, and each request and retry of one.
   */
  readonly leading: () => boolean
  /** Waits until this replica leads (at once, without ha). */
  readonly awaitLeading: Effect.Effect<void>
}

export const ALWAYS: LeadershipService = { leading: () => true, awaitLeading: Effect.void }

export class Leadership extends Context.Reference<Leadership>()("reporter/Leadership", { defaultValue: (): LeadershipService => ALWAYS }) {}

/** Whether this fiber's replica leads (always, without ha). */
export const leadingNow: Effect.Effect<boolean> = Effect.map(Leadership, (l) => l.leading())
