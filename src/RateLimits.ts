/**
 * Process-wide state per key, which outlives a configuration generation:
 * rate limits, one per key (a Statuspage API key, a Slack webhook, a
 * PagerDuty routing key), shared by every target that uses the key, whatever
 * notifier it belongs to (waiting goes through Effect's Clock); and what a
 * target must carry across a reload (PagerDuty: the routing key each open
 * alert was triggered with), in memory only.
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
  /** The limiter for `key`, made on first use: at most `limit` starts per `interval` (a fixed window unless told). */
  readonly forKey: (key: string, limit: number, interval: Duration.Duration, algorithm?: "fixed-window" | "token-bucket") => Effect.Effect<RateLimiter.RateLimiter>
  /** The map kept under `key` for the life of the process, made empty on first use. */
  readonly carried: <K, V>(key: string) => Map<K, V>
}

/**
 * The limiter for a credential (an API key, a webhook URL), shared by every
 * target that uses it; keyed by a digest, so the secret itself is not kept as a key.
 */
export const forSecret = (kind: string, secret: Redacted.Redacted<string>, limit: number, interval: Duration.Duration, algorithm?: "fixed-window" | "token-bucket") =>
  Effect.flatMap(RateLimits, (limits) =>
    limits.forKey(`${kind}:${createHash("sha256").update(Redacted.value(secret)).digest("hex")}`, limit, interval, algorithm)
  )

export class RateLimits extends Context.Tag("reporter/RateLimits")<RateLimits, RateLimitsService>() {}

export const layer: Layer.Layer<RateLimits> = Layer.scoped(
  RateLimits,
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const limiters = new Map<string, RateLimiter.RateLimiter>()
    const maps = new Map<string, Map<unknown, unknown>>()
    return {
      carried: <K, V>(key: string) => {
        let map = maps.get(key)
        if (map === undefined) maps.set(key, (map = new Map()))
        return map as Map<K, V>
      },
      forKey: (key, limit, interval, algorithm = "fixed-window") =>
        Effect.suspend(() => {
          const known = limiters.get(key)
          if (known !== undefined) return Effect.succeed(known)
          return RateLimiter.make({ limit, interval, algorithm }).pipe(
            Scope.extend(scope),
            Effect.tap((made) => Effect.sync(() => limiters.set(key, made)))
          )
        })
    }
  })
)
