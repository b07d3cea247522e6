/**
 * The retry policy shared by every peer (docs/protocols.md, "Retry conventions"):
 * exponential backoff with jitter, bounded in count and in time, never longer
 * than the peer's own `Retry-After`, and only for failures marked retryable.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
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
 * `attempt`, retried by `retryPolicy(options)`, all within `options.budget`.
 * Each attempt is told how much of the budget is left and must end by
 * itself within it, through its own timeout: nothing races the first
 * attempt, and an attempt that is let finish on shutdown cannot outlive the
 * budget either. Each failed attempt that will be
 * retried is logged at debug with its number and the delay. When the budget
 * runs out between attempts, the failure is the last attempt's error (it says
 * what was actually wrong: refused, 503, ...); when it runs out during one,
 * it is `onBudgetSpent()`.
 */
export const retryWithin = <A, E extends Attempted, R>(
  attempt: (remaining: Duration.Duration) => Effect.Effect<A, E, R>,
  options: RetryWithinOptions,
  onBudgetSpent: () => E
): Effect.Effect<A, E, R> =>
  Effect.clockWith((clock) => {
    const start = clock.unsafeCurrentTimeMillis()
    // The first attempt runs on its own: it ends by itself within the budget (every attempt's
    // timeout is at most what is left of it), and most succeed. The retry machinery (a schedule,
    // and a timeout racing it for what is left of the budget) is set up only after a failure.
    return Effect.catchAll(attempt(Duration.millis(Math.max(1, Duration.toMillis(options.budget)))), (first) => retrying(attempt, options, onBudgetSpent, start, first))
  })

/** `retryWithin` after its first attempt failed with `first`. */
const retrying = <A, E extends Attempted, R>(
  attempt: (remaining: Duration.Duration) => Effect.Effect<A, E, R>,
  options: RetryWithinOptions,
  onBudgetSpent: () => E,
  start: number,
  first: E
): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    const budget = Duration.toMillis(options.budget)
    let last: Option.Option<E> = Option.some(first)
    let attempts = 1
    let inFlight = false
    const once = Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => {
        attempts++
        inFlight = true
        return attempt(Duration.millis(Math.max(1, budget - (now - start))))
      }),
      // Not on interruption: then the budget ended this attempt.
      Effect.tapBoth({
        onFailure: (e) => Effect.sync(() => ((last = Option.some(e)), (inFlight = false))),
        onSuccess: () => Effect.sync(() => (inFlight = false))
      })
    )
    // A retry that would start in the budget's last moments would only be cut off by it, and
    // its "out of time" would hide what was actually wrong: no such retry is made.
    const deadline = start + budget
    const lastStart = deadline - Math.min(50, budget / 10)
    let tooLate = false
    const policy = retryPolicy<E>(options).pipe(
      Schedule.whileInput(() => !tooLate),
      Schedule.onDecision(([, error], decision) => {
        if (!ScheduleDecision.isContinue(decision)) return Effect.void
        const at = ScheduleIntervals.start(decision.intervals)
        if (at > lastStart) return Effect.sync(() => (tooLate = true))
        return Effect.zipRight(count((m) => m.retry(options.metric)), Clock.currentTimeMillis).pipe(
          Effect.flatMap((now) =>
            Effect.logDebug(`${options.peer} attempt ${attempts} failed, retrying in ${(Math.max(0, at - now) / 1000).toFixed(2)}s: ${error.message}`)
          )
        )
      })
    )
    let replay = true
    // The schedule is shown the first failure again, so it decides on it as it would have.
    const again = Effect.suspend(() =>
      replay ? ((replay = false), Effect.fail(first)) : tooLate ? Effect.fail(Option.getOrElse(last, () => first)) : once
    )
    const left = budget - ((yield* Clock.currentTimeMillis) - start)
    return yield* again.pipe(
      Effect.retry(policy),
      Effect.timeoutOption(Duration.millis(Math.max(0, left))),
      Effect.flatMap(
        Option.match({
          onNone: () => Effect.fail(inFlight ? onBudgetSpent() : Option.getOrElse(last, onBudgetSpent)),
          onSome: Effect.succeed
        })
      )
    )
  })
