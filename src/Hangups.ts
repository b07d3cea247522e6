/**
 * SIGHUP, as one stream. The process has one listener for it, installed
 * first thing (`watch`, from wiring.ts): Node's default for SIGHUP is to
 * exit, and a hang-up that comes while the daemon is still starting is
 * remembered, not lost. The daemon reloads on each (Generations.ts); a
 * `--once` run says it does not (Program.ts). Tests give a stream of their own.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

/** Process-wide by nature: signals are. `taken`: how many a subscriber has already been told of. */
const process_ = { received: 0, taken: 0, listeners: new Set<() => void>() }

/** What the entry point (main.ts) held while the program loaded. */
const EARLY = Symbol.for("cloudmon-metrics-reporter/early-hangups")

interface Early {
  readonly received: () => number
  readonly release: () => void
}

/**
 * Installs the program's SIGHUP listener. Called once, before the program
 * runs; it takes over from the entry point's, and counts what that one held.
 */
export const watch = (): void => {
  process.on("SIGHUP", () => {
    process_.received++
    for (const listener of process_.listeners) listener()
  })
  const early = (globalThis as { [EARLY]?: Early })[EARLY]
  if (early !== undefined) {
    process_.received += early.received()
    early.release()
  }
}

/** `early`: one or more came before anyone listened (while the program was starting). */
export type Hangup = "early" | "signal"

export class Hangups extends Context.Tag("reporter/Hangups")<
  Hangups,
  {
    /**
     * Hang-ups from now on, for the caller's scope; several before one is
     * taken count as one. One that came before (while starting) comes first, as `early`.
     */
    readonly subscribe: Effect.Effect<Stream.Stream<Hangup>, never, Scope.Scope>
  }
>() {}

export const layer: Layer.Layer<Hangups> = Layer.succeed(Hangups, {
  subscribe: Effect.gen(function* () {
    const queue = yield* Queue.sliding<Hangup>(1)
    const listener = () => {
      process_.taken = process_.received
      Queue.unsafeOffer(queue, "signal")
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => process_.listeners.add(listener)),
      () => Effect.sync(() => process_.listeners.delete(listener))
    )
    if (process_.received > process_.taken) {
      process_.taken = process_.received
      yield* Queue.offer(queue, "early")
    }
    return Stream.fromQueue(queue)
  })
})
