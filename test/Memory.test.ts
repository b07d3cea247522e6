/**
 * What the process gives back between cycles (src/Memory.ts): which
 * collection runs after a cycle, on the TestClock.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import { afterCycle, type Collect, MEMORY_REDUCING, REDUCE_EVERY } from "../src/Memory.js"

/** A `gc` that records what it was asked for: "reduce" or "plain". */
const recording = () => {
  const calls: Array<"reduce" | "plain"> = []
  const gc: Collect = (options) => void calls.push(options === undefined ? "plain" : options.flavor === MEMORY_REDUCING.flavor ? "reduce" : "plain")
  return { calls, gc }
}

describe("the collection after a cycle", () => {
  it.effect("memory-reducing after the first cycle, plain after the next ones, and reducing again once 10 minutes have passed", () =>
    Effect.gen(function* () {
      const { calls, gc } = recording()
      const collect = afterCycle(Duration.minutes(1), gc, true)
      yield* collect
      for (let i = 0; i < 9; i++) {
        yield* TestClock.adjust(Duration.minutes(1))
        yield* collect
      }
      expect(calls).toEqual(["reduce", ...Array(9).fill("plain")])
      // Ten minutes after the first: the tenth minute's cycle reduces again, and the schedule restarts from it.
      yield* TestClock.adjust(Duration.minutes(1))
      yield* collect
      yield* TestClock.adjust(Duration.minutes(1))
      yield* collect
      expect(calls.slice(9)).toEqual(["plain", "reduce", "plain"])
      expect(Duration.toMinutes(REDUCE_EVERY)).toBe(10)
    })
  )

  it.effect("an interval longer than 10 minutes reduces after every cycle", () =>
    Effect.gen(function* () {
      const { calls, gc } = recording()
      const collect = afterCycle(Duration.minutes(15), gc, true)
      for (let i = 0; i < 3; i++) {
        yield* collect
        yield* TestClock.adjust(Duration.minutes(15))
      }
      expect(calls).toEqual(["reduce", "reduce", "reduce"])
    })
  )

  it.effect("none when cycles are less than 10 s apart, or without --expose-gc", () =>
    Effect.gen(function* () {
      const { calls, gc } = recording()
      yield* afterCycle(Duration.seconds(9), gc, true)
      yield* afterCycle(Duration.seconds(60), undefined, true)
      expect(calls).toEqual([])
      yield* afterCycle(Duration.seconds(10), gc, true)
      expect(calls).toEqual(["reduce"])
    })
  )

  it.effect("a plain one after every cycle on a V8 that does not read gc's options (Node 20's would collect only the young generation)", () =>
    Effect.gen(function* () {
      const { calls, gc } = recording()
      const collect = afterCycle(Duration.minutes(15), gc, false)
      yield* collect
      yield* TestClock.adjust(Duration.minutes(15))
      yield* collect
      expect(calls).toEqual(["plain", "plain"])
    })
  )
})
