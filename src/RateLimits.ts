/**
 * Process-wide rate limits, one per key (a Statuspage API key, a Slack
 * webhook): every target that shares a key shares its limiter, whatever
 * notifier it belongs to. Waiting goes through Effect's Clock.
 */
import { createHash } from "node:crypto"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RateLimiter from "effect/RateLimiter"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"

export interface RateLimitsService {
  /** The limiter for `key`, made on first use: at most `limit` starts per `interval`. */
  readonly forKey: (key: string, limit: number, interval: Duration.Duration) => Effect.Effect<RateLimiter.RateLimiter>
}

/**
 * The limiter for a credential (an API key, a webhook URL), shared by every
 * target that uses it; keyed by a digest, so the secret itself is not kept as a key.
 */
export const forSecret = (kind: string, secret: Redacted.Redacted<string>, limit: number, interval: Duration.Duration) =>
  Effect.flatMap(RateLimits, (limits) =>
    limits.forKey(`${kind}:${createHash("sha256").update(Redacted.value(secret)).digest("hex")}`, limit, interval)
  )

export class RateLimits extends Context.Tag("reporter/RateLimits")<RateLimits, RateLimitsService>() {}

export const layer: Layer.Layer<RateLimits> = Layer.scoped(
  RateLimits,
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const limiters = new Map<string, RateLimiter.RateLimiter>()
    return {
      forKey: (key, limit, interval) =>
        Effect.suspend(() => {
          const known = limiters.get(key)
          if (known !== undefined) return Effect.succeed(known)
          return RateLimiter.make({ limit, interval, algorithm: "fixed-window" }).pipe(
            Scope.extend(scope),
            Effect.tap((made) => Effect.sync(() => limiters.set(key, made)))
          )
        })
    }
  })
)
