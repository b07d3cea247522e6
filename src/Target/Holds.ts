/**
 * Giving up on what will not work, for a while, and saying so once. A
 * notifier's answer that will come back the same on every try (Slack's
 * `channel_not_found`, PagerDuty's 400, Statuspage's 404 for a component)
 * is a *refusal*; one that asks us to slow down (PagerDuty's 429) is a
 * *throttle*. After either, the target (or, for a refusal about one
 * component, that service) is held back across cycles: a refusal 1, 2, 4 ...
 * up to 60 minutes, a throttle 30 s, 1, 2, up to 4 minutes. What is held
 * back stays due (it is skipped for now, said at debug), so it goes out once
 * the hold ends and the peer takes it; the first success ends the hold.
 * Slack documents that an app hammering a failing webhook may be disabled;
 * PagerDuty suggests waiting 30 s, or minutes, after a 429
 * (developer-docs:docs/events-API-v2/05-Rate-Limits.md:23, developer-docs:docs/events-API-v2/01-Overview.md:81).
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { TargetError, type Delivery, type TargetPort } from "../Target.js"
import { isoSeconds, type Notification, serviceId } from "../Domain.js"

/** What an adapter's failure is, for holding back: a refusal or a throttle, about the whole target or this one service. */
export interface Hold {
  readonly kind: "refused" | "throttled"
  readonly scope: "target" | "service"
}

const FIRST: Record<Hold["kind"], Duration.Duration> = { refused: Duration.minutes(1), throttled: Duration.seconds(30) }
const LONGEST: Record<Hold["kind"], Duration.Duration> = { refused: Duration.minutes(60), throttled: Duration.minutes(4) }

export interface Held {
  readonly until: number
  readonly times: number
  readonly kind: Hold["kind"]
}

/** `port`, held back after a refusal or a throttle as `classify` reads its failures. */
/**
 * `held`: where the holds live; pass one that outlives a reload
 * (RateLimits.carried) so that a SIGHUP does not lift a refusal hold.
 */
export const withHolds = (port: TargetPort, classify: (e: TargetError) => Hold | undefined, held: Map<string, Held> = new Map()): TargetPort => {
  const TARGET = ""
  const keysOf = (n: Notification) => [TARGET, serviceId(n.service)]

  const holding = (n: Notification, now: number): Held | undefined => {
    for (const key of keysOf(n)) {
      const h = held.get(key)
      if (h !== undefined && now < h.until) return h
    }
    return undefined
  }

  const after = (e: TargetError, n: Notification, now: number): TargetError => {
    const hold = classify(e)
    if (hold === undefined) return e
    const key = hold.scope === "target" ? TARGET : serviceId(n.service)
    const current = held.get(key)
    // Refusals met together (a batch, notifications in flight at once) are one refusal: one hold;
    // and a throttle answered while a refusal holds does not shorten it.
    const already = current !== undefined && now < current.until && (current.kind === hold.kind || current.kind === "refused")
    const times = already ? current.times : (current?.kind === hold.kind ? current.times : 0) + 1
    const wait = already ? Duration.millis(current.until - now) : Duration.min(Duration.times(FIRST[hold.kind], 2 ** (times - 1)), LONGEST[hold.kind])
    if (!already) held.set(key, { until: now + Duration.toMillis(wait), times, kind: hold.kind })
    const whom = hold.scope === "target" ? "this target" : `${n.service.name} in ${n.service.environment} at this target`
    return new TargetError({
      ...e,
      detail: `${e.detail}; ${hold.kind === "refused" ? "it would refuse again" : "it asks to slow down"}: nothing more is sent to ${whom} for ${Duration.format(wait)} (what is due stays due)`,
      refused: hold.kind === "refused",
      // Asked to slow down is the peer's rate limit: not a failure (Reporter.ts).
      ...(hold.kind === "throttled" ? { rateLimit: `its rate limit (${e.status ?? "?"}; nothing more for ${Duration.format(wait)})` } : {})
    })
  }

  /** What is held back is skipped for now: it stays due. */
  const heldBack = (h: Held): Delivery => ({
    _tag: "Skipped",
    why: `held back after it ${h.kind === "refused" ? "refused" : "asked to slow down"}: next attempt after ${isoSeconds(h.until)}`,
    level: "debug",
    final: false
  })

  const notify = (n: Notification): Effect.Effect<Delivery, TargetError> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const h = holding(n, now)
      if (h !== undefined) return Effect.succeed(heldBack(h))
      return port.notify(n).pipe(
        // Only a delivery shows the peer takes notifications again (a skip says nothing of it).
        Effect.tap((d) => Effect.sync(() => d._tag === "Delivered" && keysOf(n).forEach((key) => held.delete(key)))),
        Effect.catchAll((e) => Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.fail(after(e, n, at))))
      )
    })

  /** A batch: what is held is skipped for now; the rest is sent, each failure held as it would be alone. */
  const notifyMany =
    port.notifyMany === undefined
      ? undefined
      : (ns: ReadonlyArray<Notification>, done: (index: number, outcome: Either.Either<Delivery, TargetError>) => Effect.Effect<void>): Effect.Effect<void> =>
          Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const open: Array<number> = []
            const skipped: Array<Effect.Effect<void>> = []
            ns.forEach((n, i) => {
              const h = holding(n, now)
              if (h === undefined) open.push(i)
              else skipped.push(done(i, Either.right(heldBack(h))))
            })
            const sent =
              open.length === 0
                ? Effect.void
                : port.notifyMany!(
                    open.map((i) => ns[i]!),
                    (j, outcome) =>
                      Effect.flatMap(Clock.currentTimeMillis, (at) => {
                        const i = open[j]!
                        const n = ns[i]!
                        if (Either.isRight(outcome)) {
                          if (outcome.right._tag === "Delivered") keysOf(n).forEach((key) => held.delete(key))
                          return done(i, outcome)
                        }
                        return done(i, Either.left(after(outcome.left, n, at)))
                      })
                  )
            return Effect.zipRight(Effect.all(skipped, { discard: true }), sent)
          })

  return { ...port, notify, ...(notifyMany === undefined ? {} : { notifyMany }) }
}
