import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import { finishInFlight } from "../src/Shutdown.js"

describe("finishInFlight", () => {
  it.effect("lets work on the wire finish when its caller is interrupted", () =>
    Effect.gen(function* () {
      let done = false
      const fiber = yield* Effect.fork(finishInFlight(Effect.sleep("2 seconds").pipe(Effect.tap(() => (done = true)))))
      yield* TestClock.adjust("1 second")
      const interrupted = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(interrupted)
      expect(done).toBe(true)
    })
  )

  it.effect("but for at most the grace period (3 s), so a stop stays prompt", () =>
    Effect.gen(function* () {
      let done = false
      const fiber = yield* Effect.fork(finishInFlight(Effect.sleep("10 seconds").pipe(Effect.tap(() => (done = true)))))
      yield* TestClock.adjust("1 second")
      const interrupted = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("2999 millis")
      expect(interrupted.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(interrupted)
      expect(done).toBe(false)
    })
  )

  it.effect("keeps the work's own timeout working", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(
        finishInFlight(Effect.never.pipe(Effect.timeoutFail({ duration: "500 millis", onTimeout: () => "timed out" as const })))
      )
      yield* TestClock.adjust("500 millis")
      expect(yield* Effect.flip(Fiber.join(fiber))).toBe("timed out")
    })
  )
})
