/**
 * The cycle's time: each cycle gets one poll interval; within it, reading a
 * service and notifying for it each get a phase budget, retries included.
 * The peers cut each attempt's timeout to what is left of their phase.
 */
import * as Duration from "effect/Duration"
import { HttpFault } from "./Transport.js"

/**
 * Each phase gets 45% of the poll interval, so that a service that uses up
 * both still leaves the cycle time to finish within its interval.
 */
export const PHASE_SHARE = 0.45

export const phaseBudget = (pollInterval: Duration.Duration): Duration.Duration =>
  Duration.millis(Math.floor(Duration.toMillis(pollInterval) * PHASE_SHARE))

/** What to say when the phase budget, not a peer's own timeout, was the limit. */
export const budgetHint = (budget: Duration.Duration): string =>
  `the ${Duration.format(budget)} budget (${Math.round(PHASE_SHARE * 100)}% of reporter.poll_interval) ran out; ` +
  "raise reporter.poll_interval or reporter.concurrency, or find what makes the peer slow"

/**
 * An attempt's timeout: the peer's own (`key`), or what is left of the
 * budget when that is shorter; and `explain`, which gives a fault from the
 * exchange the message that says what to change when it is that timeout
 * (the message is built only then: most attempts end in time).
 */
export const attemptTimeout = (
  own: { readonly key: string; readonly timeout: Duration.Duration },
  remaining: Duration.Duration,
  budget: Duration.Duration
): { readonly timeout: Duration.Duration; readonly explain: (fault: HttpFault) => HttpFault } => {
  const budgetFirst = Duration.lessThan(remaining, own.timeout)
  const detail = () =>
    budgetFirst
      ? `no complete answer before ${budgetHint(budget)}`
      : `no complete answer within ${Duration.format(own.timeout)} (${own.key}; raise it if the peer is just slow)`
  return {
    timeout: budgetFirst ? remaining : own.timeout,
    explain: (fault) => (fault.kind === "Timeout" ? new HttpFault({ kind: "Timeout", detail: detail() }) : fault)
  }
}
