/**
 * Process-wide rate limits, one per key (a Statuspage API key, a Slack
 * webhook): every target that shares a key shares its limiter, whatever
 * notifier it belongs to. Waiting goes through Effect's Clock.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RateLimiter from "effect/RateLimiter"
import * as Scope from "effect/Scope"

export interface RateLimitsService {
  /** The limiter for `key`, made on first use: at most `limit` starts per `interval`. */
  readonly forKey: (key: string, limit: number, interval: Duration.Duration) => Effect.Effect<RateLimiter.RateLimiter>
}

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
