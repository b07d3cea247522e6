/**
 * The retry policy shared by every peer (docs/protocols.md, "Retry conventions"):
 * exponential backoff with jitter, bounded in count and in time, never longer
 * than the peer's own `Retry-After`, and only for failures marked retryable.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Leadership } from "./Leadership.js"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { count } from "./Metrics.js"

export interface Retryable {
  readonly retryable: boolean
  readonly retryAfter: Option.Option<Duration.Duration>
}

export interface RetryOptions {
  /** Delay before the first retry; doubles after each. */
  readonly base: Duration.DurationInput
  /** Retries after the first attempt. */
  readonly retries: number
  /** No retry starts after this much time, and none waits past it. */
  readonly budget: Duration.Duration
}

export const retryPolicy = <E extends Retryable>(options: RetryOptions) =>
  Schedule.exponential(options.base, 2).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(options.retries)),
    Schedule.intersect(Schedule.identity<E>()),
    // A peer that says when to come back is believed, unless that is past the budget.
    Schedule.modifyDelay(([, error], delay) =>
      Option.match(error.retryAfter, { onNone: () => delay, onSome: (after) => Duration.max(delay, after) })
    ),
    Schedule.whileInput(
      (error: E) =>
        error.retryable &&
        Option.match(error.retryAfter, {
          onNone: () => true,
          onSome: (after) => Duration.lessThanOrEqualTo(after, options.budget)
        })
    ),
    Schedule.upTo(options.budget)
  )

/** 408, 429 (and Statuspage's 420) and 5xx are worth another try; other 4xx fail the same way again. */
export const isRetryableStatus = (status: number): boolean =>
  status === 408 || status === 420 || status === 429 || status >= 500

export interface RetryWithinOptions extends RetryOptions {
  /** How log lines name the peer (`Convertor`, `Target dashboard`). */
  readonly peer: string
  /** The `peer` label of the retries metric: `convertor`, or a target's name. */
  readonly metric: string
}

export interface Attempted extends Retryable {
  readonly message: string
}

/**
 * `attempt`, retried by `retryPolicy(options)`, all within `options.budget`:
 * one Schedule, run by `Effect.retryOrElse`. Each attempt is told how much
 * of the budget is left and must end by itself within it, through its own
 * timeout, so nothing races an attempt, and one that is let finish on
 * shutdown cannot outlive the budget either. A retry that would start in
 * the budget's last moments (its last tenth, at most 50 ms) is not made: it
 * would only be cut off, and its "out of time" would hide what was actually
 * wrong, so the failure is then the last attempt's own error (refused, 503,
 * ...). Each retry is logged at debug with its number and delay, and counted.
 * `onBudgetSpent` is the error when the budget ran out before any attempt said why.
 */
export const retryWithin = <A, E extends Attempted, R>(
  attempt: (remaining: Duration.Duration) => Effect.Effect<A, E, R>,
  options: RetryWithinOptions,
  onBudgetSpent: () => E
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.zip(Effect.clock, Leadership), ([clock, leadership]) => {
    const budget = Duration.toMillis(options.budget)
    const start = clock.unsafeCurrentTimeMillis()
    const lastStart = start + budget - Math.min(50, budget / 10)
    const left = () => budget - (clock.unsafeCurrentTimeMillis() - start)
    const retries = Schedule.delays(retryPolicy<E>(options)).pipe(
      Schedule.intersect(Schedule.count),
      Schedule.checkEffect((error: E, [delay, retried]) => {
        if (clock.unsafeCurrentTimeMillis() + Duration.toMillis(delay) > lastStart) return Effect.succeed(false)
        // A replica that no longer leads (ha) retries nothing: what failed stays due, for the leader.
        if (!leadership.leading()) return Effect.succeed(false)
        return count((m) => m.retry(options.metric)).pipe(
          Effect.zipRight(Effect.logDebug(`${options.peer} attempt ${retried + 1} failed, retrying in ${(Duration.toMillis(delay) / 1000).toFixed(2)}s: ${error.message}`)),
          Effect.as(true)
        )
      })
    )
    return Effect.retryOrElse(
      Effect.suspend(() => (left() > 0 ? attempt(Duration.millis(Math.max(1, left()))) : Effect.fail(onBudgetSpent()))),
      retries,
      (last) => Effect.fail(last)
    )
  })
