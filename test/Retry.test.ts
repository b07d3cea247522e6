/** Retry.ts on its own: the budget's edges, with TestClock. */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { Leadership } from "../src/Leadership.js"
import { retryWithin } from "../src/Retry.js"

class Failed {
  constructor(
    readonly message: string,
    readonly retryAfter: Option.Option<Duration.Duration> = Option.none(),
    readonly retryable = true
  ) {}
}

const options = { base: "1 millis", retries: 3, budget: Duration.seconds(1), peer: "Test", metric: "test" } as const

describe("retryWithin at the end of its budget", () => {
  it.effect("makes no retry that would start in the budget's last moments: the error is what the last attempt saw", () =>
    Effect.gen(function* () {
      let attempts = 0
      // The peer says to come back in 970 ms: a retry then would have 30 ms of a 1 s budget.
      const attempt = (remaining: Duration.Duration) =>
        Effect.suspend(() => {
          attempts++
          return attempts === 1 ? Effect.fail(new Failed("busy, come back later", Option.some(Duration.millis(970)))) : Effect.zipRight(Effect.sleep(remaining), Effect.fail(new Failed("timed out")))
        })
      const fiber = yield* Effect.fork(Effect.either(retryWithin(attempt, options, () => new Failed("out of budget"))))
      yield* TestClock.adjust("2 seconds")
      const result = yield* Fiber.join(fiber)
      expect(attempts).toBe(1)
      expect(result._tag === "Left" && result.left.message).toBe("busy, come back later")
    })
  )

  it.effect("still retries when the retry leaves time for an attempt", () =>
    Effect.gen(function* () {
      let attempts = 0
      const attempt = () =>
        Effect.suspend(() => (++attempts === 1 ? Effect.fail(new Failed("busy", Option.some(Duration.millis(800)))) : Effect.succeed("ok")))
      const fiber = yield* Effect.fork(retryWithin(attempt, options, () => new Failed("out of budget")))
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(attempts).toBe(2)
    })
  )
})

describe("retryWithin on a replica that stops leading (ha)", () => {
  it.effect("retries nothing once it no longer leads: the failure is the last attempt's, and nothing more goes on the wire", () =>
    Effect.gen(function* () {
      let attempts = 0
      let leads = true
      const attempt = () =>
        Effect.suspend(() => {
          attempts++
          leads = false
          return Effect.fail(new Failed("503"))
        })
      const fiber = yield* Effect.fork(
        Effect.either(retryWithin(attempt, options, () => new Failed("out of budget"))).pipe(
          Effect.provideService(Leadership, { leading: () => leads, awaitLeading: Effect.void })
        )
      )
      yield* TestClock.adjust("2 seconds")
      const result = yield* Fiber.join(fiber)
      expect(attempts).toBe(1)
      expect(result._tag === "Left" && result.left.message).toBe("503")
    })
  )
})
