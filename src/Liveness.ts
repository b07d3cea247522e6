/**
 * Is the daemon alive and ready? One owner for what `/healthz` and `/readyz`
 * answer from: the loop says when a cycle has completed, the generations say
 * which poll interval is in force and when the daemon is ready. The endpoint
 * (Observability.ts) only reads it.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"

export interface LivenessState {
  /** When the last cycle completed (or the daemon started, before the first one), in ms. */
  readonly lastCycleAt: number
  readonly interval: Duration.Duration
  /**
   * A reloaded configuration's interval, taken up when its first cycle
   * completes; until then the longer of the two applies (the last cycle ran
   * on the old schedule).
   */
  readonly nextInterval: Duration.Duration | undefined
  /** Why the daemon is not ready yet; undefined once it is. */
  readonly notReady: string | undefined
  /** With ha: "leader" or "standby" (a standby is alive while it observes the Lease); undefined without. */
  readonly role: "leader" | "standby" | undefined
}

export interface LivenessService {
  /** A cycle is over, its state written: what `/healthz` calls a completed cycle. */
  readonly cycleCompleted: (finishedAtMillis: number) => Effect.Effect<void>
  /** A configuration is in force (the first, or a reloaded one): its interval applies from its first cycle on, and the daemon is ready. */
  readonly configured: (interval: Duration.Duration) => Effect.Effect<void>
  /** A standby read the Lease: as much a sign of life as a cycle (it runs none). */
  readonly observed: (atMillis: number) => Effect.Effect<void>
  /** With ha, the replica's role as it changes. */
  readonly role: (role: "leader" | "standby") => Effect.Effect<void>
  readonly get: Effect.Effect<LivenessState>
}

export class Liveness extends Context.Tag("reporter/Liveness")<Liveness, LivenessService>() {}

export const STARTING = "starting: reading the configuration and setting up the targets"

/** Counted from now: before the first cycle, the daemon's start is the last sign of life. */
export const layer = (interval: Duration.Duration): Layer.Layer<Liveness> =>
  Layer.effect(
    Liveness,
    Effect.gen(function* () {
      const state = yield* Ref.make<LivenessState>({ lastCycleAt: yield* Clock.currentTimeMillis, interval, nextInterval: undefined, notReady: STARTING, role: undefined })
      return {
        cycleCompleted: (at) =>
          Ref.update(state, (s) => (s.nextInterval === undefined ? { ...s, lastCycleAt: at } : { ...s, lastCycleAt: at, interval: s.nextInterval, nextInterval: undefined })),
        configured: (next) => Ref.update(state, (s) => ({ ...s, nextInterval: next, notReady: undefined })),
        observed: (at) => Ref.update(state, (s) => (s.role === "leader" ? s : { ...s, lastCycleAt: Math.max(s.lastCycleAt, at) })),
        role: (role) => Ref.update(state, (s) => ({ ...s, role })),
        get: Ref.get(state)
      }
    })
  )
