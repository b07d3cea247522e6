/**
 * The retry policy shared by every peer (protocols.md, "Retry conventions"):
 * exponential backoff with jitter, bounded in count and in time, never longer
 * than the peer's own `Retry-After`, and only for failures marked retryable.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"

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

/**
 * The time budget for reading a service, and again for notifying about it,
 * retries included: 45% of the poll interval each, so that a service that
 * uses up both still leaves the cycle time to finish within its interval.
 */
export const PHASE_SHARE = 0.45

export const phaseBudget = (pollInterval: Duration.Duration): Duration.Duration =>
  Duration.millis(Math.floor(Duration.toMillis(pollInterval) * PHASE_SHARE))

/** 408, 429 (and Statuspage's 420) and 5xx are worth another try; other 4xx fail the same way again. */
export const isRetryableStatus = (status: number): boolean =>
  status === 408 || status === 420 || status === 429 || status >= 500

/**
 * `attempt`, retried by `retryPolicy(options)`, all within `options.budget`.
 * Each attempt is told how much of the budget is left, so that its own
 * timeout can end it in time (an attempt that is let finish on shutdown
 * cannot then outlive the budget either). When the budget runs out, the
 * failure is the last attempt's error (it says what was actually wrong:
 * refused, 503, ...), or `onTimeout()` when no attempt had even finished.
 */
export const retryWithin = <A, E extends Retryable, R>(
  attempt: (remaining: Duration.Duration) => Effect.Effect<A, E, R>,
  options: RetryOptions,
  onTimeout: () => E
): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const budget = Duration.toMillis(options.budget)
    let last: Option.Option<E> = Option.none()
    const once = Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => attempt(Duration.millis(Math.max(1, budget - (now - start))))),
      Effect.tapError((e) => Effect.sync(() => (last = Option.some(e))))
    )
    return yield* once.pipe(
      Effect.retry(retryPolicy<E>(options)),
      Effect.timeoutOption(options.budget),
      Effect.flatMap(Option.match({ onNone: () => Effect.fail(Option.getOrElse(last, onTimeout)), onSome: Effect.succeed }))
    )
  })
