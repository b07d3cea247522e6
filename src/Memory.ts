/**
 * What the process gives back between cycles, when the image's command
 * exposes `gc` (--expose-gc) and the next cycle is at least 10 s away.
 *
 * From Node 24 on, V8's memory reducer does not run for a process that only
 * wakes once a minute: its heap, its young generation and the pages V8 keeps
 * for reuse stay as large as the busiest moment left them. So, after a cycle:
 *
 * - a memory-reducing collection (V8's own answer to memory pressure: it also
 *   shrinks the young generation and returns the pages it pools) after the
 *   first cycle, which follows start-up, and then at most every 10 minutes.
 *   It makes the next cycle re-warm its code (measured: about 0.4 s more CPU
 *   for that one cycle at 1000 services), which is why it is not every cycle;
 * - a plain full collection after the others (a few milliseconds).
 *
 * Only where `gc` reads its options, V8 12 (Node 22) and later (checked with
 * --trace-gc on Node 22.23, 24.22 and 26.10): Node 20's V8 takes
 * `gc({type: "major", ...})` for a young-generation collection, so there
 * every collection is a plain full one, and Node 20's own reducer does the rest.
 * Figures in bench/results.md, "Where users run it".
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/** `globalThis.gc` as --expose-gc defines it; V8 12 and later read its options (READS_GC_OPTIONS). */
export type Collect = (options?: { readonly type: "major"; readonly execution: "sync"; readonly flavor: "last-resort" }) => void

export const MEMORY_REDUCING = { type: "major", execution: "sync", flavor: "last-resort" } as const

/** Whether this V8 reads `gc`'s options (12 and later). */
export const READS_GC_OPTIONS = Number(process.versions.v8.split(".")[0]) >= 12

/** How often at most a collection after a cycle is a memory-reducing one. */
export const REDUCE_EVERY = Duration.minutes(10)

/** Cycles closer together than this keep V8's own schedule: the process is never idle long. */
export const COLLECT_FROM = Duration.seconds(10)

/** The collection to run after each cycle, for a poll interval; nothing without `gc`. */
export const afterCycle = (
  interval: Duration.Duration,
  gc: Collect | undefined = (globalThis as { gc?: Collect }).gc,
  readsOptions = READS_GC_OPTIONS
): Effect.Effect<void> => {
  if (gc === undefined || Duration.lessThan(interval, COLLECT_FROM)) return Effect.void
  const every = Duration.unsafeToNanos(REDUCE_EVERY)
  let reducedAt: bigint | undefined
  // Clock nanos are monotonic: a clock set back or forward does not move the schedule.
  return Effect.flatMap(Clock.currentTimeNanos, (now) =>
    Effect.sync(() => {
      if (readsOptions && (reducedAt === undefined || now - reducedAt >= every)) {
        reducedAt = now
        gc(MEMORY_REDUCING)
      } else gc()
    })
  )
}
