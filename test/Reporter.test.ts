import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import { AppConfig } from "../src/Config.js"
import { Convertor, ConvertorError } from "../src/Convertor.js"
import { TargetError, type Delivery, DELIVERED, Targets } from "../src/Target.js"
import type { Notification, Reading, ServiceRef } from "../src/Domain.js"
import { Maintenance } from "../src/Maintenance.js"
import { cycle, DryRun, runCycle, runForever } from "../src/Reporter.js"
import type { CycleSummary } from "../src/Summary.js"
import { Metrics, type MetricsPort, NONE } from "../src/Metrics.js"
import { advance, captureLogs, policyLayers, testConfig } from "./helpers.js"

const svc = (name: string): ServiceRef => ({ name, environment: "production" })
const health = (status: number): Reading => ({
  _tag: "Current",
  health: { status, timestamp: new Date(0), triggeredMetrics: [] },
  readAsMillis: false
})
const noData: Reading = { _tag: "NoData" }

interface Fakes {
  /** Per service name: what the convertor answers. */
  readonly read: (service: ServiceRef) => Effect.Effect<Reading, ConvertorError>
  readonly notify?: (n: Notification) => Effect.Effect<void, TargetError>
  readonly services: ReadonlyArray<ServiceRef>
  readonly pollInterval?: Duration.Duration
  readonly concurrency?: number
}

const world = (fakes: Fakes) => {
  const reads: Array<{ service: string; at: number }> = []
  const sent: Array<Notification> = []
  const convertor = Convertor.make({
    maintenances: Effect.succeed([]),
    probe: () => Effect.die("not probed"),
    health: (service) =>
      Clock.currentTimeMillis.pipe(
        Effect.tap((at) => reads.push({ service: service.name, at })),
        Effect.zipRight(fakes.read(service))
      )
  })
  const dashboard = {
    name: "dashboard",
    target: "fake",
    notify: (n: Notification) => (fakes.notify ?? (() => Effect.void))(n).pipe(Effect.tap(() => sent.push(n)), Effect.as(DELIVERED)),
    rehearse: (n: Notification) => Effect.succeed(`POST fake ${n.service.name}`)
  }
  const layer = Layer.mergeAll(
    Layer.succeed(Convertor, convertor),
    Layer.succeed(Targets, [dashboard]),
    policyLayers(),
    Layer.succeed(
      AppConfig,
      testConfig({
        services: fakes.services,
        pollInterval: fakes.pollInterval ?? Duration.seconds(60),
        concurrency: fakes.concurrency ?? 4
      })
    )
  )
  return { reads, sent, layer }
}

const readFailure = (service: ServiceRef) =>
  new ConvertorError({
    service,
    reason: "Unavailable",
    peer: "http://convertor.test",
    detail: "connection refused",
    retryable: true,
    retryAfter: Option.none()
  })

describe("one cycle", () => {
  it.effect("a slow maintenance read delays no poll: the windows are read alongside them", () =>
    Effect.gen(function* () {
      const w = world({ read: () => Effect.succeed(health(1)), services: [svc("api")] })
      const slow = Layer.succeed(Maintenance, { refresh: Effect.sleep("10 seconds"), covers: () => false })
      const fiber = yield* Effect.fork(runCycle.pipe(Effect.provide(slow), Effect.provide(w.layer)))
      yield* TestClock.adjust("1 second")
      expect(w.reads).toEqual([{ service: "api", at: 0 }])
      expect(w.sent).toHaveLength(1)
      yield* TestClock.adjust("10 seconds")
      expect((yield* Fiber.join(fiber)).polled).toBe(1)
    })
  )

  it.effect("a convertor's million-character expression makes one log line of a sane length, the cut marked", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const huge: Reading = {
        _tag: "Current",
        health: { status: 2, timestamp: new Date(0), triggeredMetrics: ["m".repeat(1_000_000)], matchedExpression: "e".repeat(1_000_000), region: "r".repeat(1_000_000) },
        readAsMillis: false
      }
      const w = world({ read: () => Effect.succeed(huge), services: [svc("api")] })
      yield* runCycle.pipe(Effect.provide(w.layer), Effect.provide(logs.layer))
      const line = logs.lines.find((l) => l.includes("Health status: 2"))!
      expect(line.length).toBeLessThan(2_000)
      expect(line).toContain(`matched_expression=${"e".repeat(499)}…`)
      expect(line).toContain(`triggered_metrics=${"m".repeat(499)}…`)
    })
  )

  it.effect("notifies degraded and outage services, and not healthy or no-data ones", () =>
    Effect.gen(function* () {
      const statuses: Record<string, Reading> = { a: health(0), b: health(1), c: health(2), d: noData }
      const w = world({ services: ["a", "b", "c", "d"].map(svc), read: (s) => Effect.succeed(statuses[s.name]!) })
      const summary = yield* runCycle.pipe(Effect.provide(w.layer))
      expect(w.sent.map((n) => [n.service.name, n.status, n.message])).toEqual([
        ["b", 1, "Service degraded"],
        ["c", 2, "Service outage"]
      ])
      expect(summary).toMatchObject({ polled: 4, healthy: 1, degraded: 2, notified: 2, noData: 1, failed: 0 })
    })
  )

  it.effect("a failing service does not stop the others, and nothing is sent for it", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const w = world({
        services: ["a", "broken", "c"].map(svc),
        read: (s) => (s.name === "broken" ? Effect.fail(readFailure(s)) : Effect.succeed(health(1)))
      })
      const summary = yield* runCycle.pipe(Effect.provide(w.layer), Effect.provide(logs.layer))
      expect(w.sent.map((n) => n.service.name).sort()).toEqual(["a", "c"])
      expect(summary).toMatchObject({ polled: 3, notified: 2, failed: 1 })
      const text = logs.lines.join("\n")
      expect(text).toMatch(/ERROR Connection refused to convertor at http:\/\/convertor\.test .* service=broken/)
      expect(text).toContain("Cycle complete: polled=3 healthy=0 degraded=2 outage=0 no_data=0 stale=0 failed=1 late=0 sent=2/2")
    })
  )

  it.effect("counts an undelivered notification as failed", () =>
    Effect.gen(function* () {
      const w = world({
        services: [svc("a")],
        read: () => Effect.succeed(health(2)),
        notify: (n) =>
          Effect.fail(
            new TargetError({ peer: "fake", label: "Dashboard", service: n.service, reason: "AuthFailed", detail: "", status: 401, retryable: false, retryAfter: Option.none() })
          )
      })
      const summary = yield* runCycle.pipe(Effect.provide(w.layer))
      expect(summary).toMatchObject({ degraded: 1, notified: 0, failed: 1 })
    })
  )

  it.effect("logs the documented per-service lines", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const w = world({ services: [svc("api")], read: () => Effect.succeed(health(1)) })
      yield* runCycle.pipe(Effect.provide(w.layer), Effect.provide(logs.layer))
      const text = logs.lines.join("\n")
      expect(text).toMatch(/INFO Health status: 1 \(degraded\) service=api environment=production/)
      expect(text).toMatch(/INFO Sent notification to dashboard: success \(trigger\) service=api/)
      // The cycle's own lines name no service: a worker's annotations do not outlive it.
      expect(logs.lines.find((l) => l.includes("Cycle complete"))).not.toMatch(/service=/)
    })
  )

  it.effect("annotates the health line with what the convertor says triggered it, and only that line", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const reading: Reading = {
        _tag: "Current",
        health: { status: 2, timestamp: new Date(0), triggeredMetrics: ["api.down", "api.slow"], matchedExpression: "api.down || api.slow", region: "eu-de" },
        readAsMillis: false
      }
      const w = world({ services: [svc("api")], read: () => Effect.succeed(reading) })
      yield* runCycle.pipe(Effect.provide(w.layer), Effect.provide(logs.layer))
      expect(logs.lines.find((l) => l.includes("Health status"))).toMatch(
        /INFO Health status: 2 \(outage\) service=api environment=production matched_expression="api.down \|\| api.slow" region=eu-de triggered_metrics=api.down,api.slow$/
      )
      expect(logs.lines.find((l) => l.includes("Sent notification"))).toMatch(/success \(trigger\) service=api environment=production$/)
    })
  )

  it.effect("polls at most `concurrency` services at once", () =>
    Effect.gen(function* () {
      let inFlight = 0
      let peak = 0
      const w = world({
        services: Array.from({ length: 20 }, (_, i) => svc(`s${i}`)),
        concurrency: 3,
        read: () =>
          Effect.sync(() => {
            inFlight++
            peak = Math.max(peak, inFlight)
          }).pipe(
            Effect.zipRight(Effect.sleep("1 second")),
            Effect.ensuring(Effect.sync(() => inFlight--)),
            Effect.as(health(0))
          )
      })
      const fiber = yield* Effect.fork(runCycle.pipe(Effect.provide(w.layer)))
      yield* TestClock.adjust("10 seconds")
      const summary = yield* Fiber.join(fiber)
      expect(summary.polled).toBe(20)
      expect(peak).toBe(3)
      expect(Duration.toMillis(summary.duration)).toBe(7000) // ceil(20 / 3) rounds of 1 s
    })
  )
})

describe("the loop", () => {
  it.effect("polls at once, then once per interval: cycles happen at 0, 60, 120, 180 s and not before", () =>
    Effect.gen(function* () {
      const w = world({ services: [svc("api")], read: () => Effect.succeed(health(0)) })
      const fiber = yield* Effect.fork(runForever().pipe(Effect.provide(w.layer)))
      yield* TestClock.adjust("0 seconds")
      expect(w.reads).toHaveLength(1)
      yield* TestClock.adjust("59 seconds")
      expect(w.reads).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      expect(w.reads).toHaveLength(2)
      yield* TestClock.adjust("119 seconds")
      expect(w.reads).toHaveLength(3)
      yield* TestClock.adjust("1 second")
      expect(w.reads.map((r) => r.at)).toEqual([0, 60_000, 120_000, 180_000])
      yield* Fiber.interrupt(fiber)
    })
  )

  it.effect("services slower than the interval are cut at it and counted as failed; those never started are late, not polled", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const w = world({
        services: Array.from({ length: 100 }, (_, i) => svc(`hung${i}`)),
        concurrency: 32,
        read: () => Effect.never
      })
      const fiber = yield* Effect.fork(runCycle.pipe(Effect.provide(w.layer), Effect.provide(logs.layer)))
      yield* TestClock.adjust("60 seconds")
      const summary = yield* Fiber.join(fiber)
      expect(Duration.toSeconds(summary.duration)).toBe(60)
      expect(summary).toMatchObject({ polled: 32, failed: 32, late: 68 })
      expect(w.reads).toHaveLength(32) // the rest were never started
      const text = logs.lines.join("\n")
      expect(text).toContain("32 service(s) not done within reporter.poll_interval (1m)")
      expect(text).toContain("68 service(s) not reached within reporter.poll_interval (1m)")
      expect(text).toContain("Cycle complete: polled=32 healthy=0 degraded=0 outage=0 no_data=0 stale=0 failed=32 late=68 sent=0/0")
    })
  )

  it.effect("a cycle that overruns (a notification let finish) delays the next one without piling cycles up", () =>
    Effect.gen(function* () {
      let running = 0
      let overlapped = false
      const w = world({
        services: [svc("slow")],
        pollInterval: Duration.seconds(60),
        read: () =>
          Effect.sync(() => {
            running++
            if (running > 1) overlapped = true
          }).pipe(Effect.as(health(1))),
        // Like a notification on the wire at the deadline: it is let finish, 90 s in all.
        notify: () => Effect.sleep("90 seconds").pipe(Effect.ensuring(Effect.sync(() => running--)), Effect.uninterruptible)
      })
      const fiber = yield* Effect.fork(runForever().pipe(Effect.provide(w.layer)))
      for (let i = 0; i < 30; i++) yield* TestClock.adjust("10 seconds") // 300 s
      // Back to back, never together, and no burst of missed cycles afterwards.
      expect(w.reads.map((r) => r.at)).toEqual([0, 90_000, 180_000, 270_000])
      expect(overlapped).toBe(false)
      // The fourth notification holds the interrupt until it is done, at 360 s.
      yield* Fiber.interruptFork(fiber)
      yield* TestClock.adjust("60 seconds")
      yield* Fiber.await(fiber)
    })
  )

  it.effect("a defect while polling one service is logged and does not stop the others", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const w = world({
        services: ["a", "buggy", "c"].map(svc),
        read: (s) => (s.name === "buggy" ? Effect.die(new RangeError("Invalid time value")) : Effect.succeed(health(1)))
      })
      const summary = yield* runCycle.pipe(Effect.provide(w.layer), Effect.provide(logs.layer))
      expect(w.sent.map((n) => n.service.name).sort()).toEqual(["a", "c"])
      expect(summary).toMatchObject({ polled: 3, notified: 2, failed: 1 })
      expect(logs.lines.join("\n")).toMatch(/ERROR Internal error while polling this service \(please report it\): RangeError: Invalid time value service=buggy/)
    })
  )

  it.effect("keeps going after a cycle in which every service failed", () =>
    Effect.gen(function* () {
      let down = true
      const w = world({
        services: [svc("api")],
        read: (s) => (down ? Effect.fail(readFailure(s)) : Effect.succeed(health(1)))
      })
      const fiber = yield* Effect.fork(runForever().pipe(Effect.provide(w.layer)))
      yield* TestClock.adjust("0 seconds")
      expect(w.sent).toHaveLength(0)
      down = false
      yield* TestClock.adjust("60 seconds")
      expect(w.sent).toHaveLength(1)
      yield* Fiber.interrupt(fiber)
    })
  )

  it.effect("after the dashboard was down for 10 minutes, the first cycle back notifies every still-degraded service", () =>
    Effect.gen(function* () {
      const RECOVERY = 10 * 60_000
      const failedAttempts: Array<number> = []
      const w = world({
        services: ["a", "b", "c", "healthy"].map(svc),
        read: (s) => Effect.succeed(health(s.name === "healthy" ? 0 : 1)),
        notify: (n) =>
          Clock.currentTimeMillis.pipe(
            Effect.flatMap((now) =>
              now < RECOVERY
                ? Effect.sync(() => failedAttempts.push(now)).pipe(
                    Effect.zipRight(
                      Effect.fail(
                        new TargetError({ peer: "fake", label: "Dashboard", service: n.service, reason: "Unavailable", detail: "answered 503", retryable: true, retryAfter: Option.none() })
                      )
                    )
                  )
                : Effect.void
            )
          )
      })
      const fiber = yield* Effect.fork(runForever().pipe(Effect.provide(w.layer)))
      yield* TestClock.adjust("9 minutes")
      expect(w.sent).toHaveLength(0)
      expect(failedAttempts).toHaveLength(10 * 3) // cycles at 0..9 min, three degraded services each
      yield* TestClock.adjust("1 minute")
      expect(w.sent.map((n) => n.service.name).sort()).toEqual(["a", "b", "c"])
      yield* Fiber.interrupt(fiber)
    })
  )

  it.effect("1000 services flipping to outage in one cycle are all notified, never more than `concurrency` at once", () =>
    Effect.gen(function* () {
      let outage = false
      let inFlight = 0
      let peak = 0
      const w = world({
        services: Array.from({ length: 1000 }, (_, i) => svc(`s${i}`)),
        concurrency: 32,
        read: () => Effect.sync(() => health(outage ? 2 : 0)),
        notify: () =>
          Effect.sync(() => {
            inFlight++
            peak = Math.max(peak, inFlight)
          }).pipe(Effect.zipRight(Effect.sleep("100 millis")), Effect.ensuring(Effect.sync(() => inFlight--)))
      })
      const fiber = yield* Effect.fork(runForever().pipe(Effect.provide(w.layer)))
      yield* TestClock.adjust("0 seconds")
      expect(w.sent).toHaveLength(0)
      outage = true
      yield* TestClock.adjust("60 seconds")
      yield* TestClock.adjust("4 seconds") // ceil(1000 / 32) rounds of 100 ms
      expect(w.sent).toHaveLength(1000)
      expect(new Set(w.sent.map((n) => n.service.name)).size).toBe(1000)
      expect(w.sent.every((n) => n.status === 2 && n.message === "Service outage")).toBe(true)
      expect(peak).toBe(32)
      yield* Fiber.interrupt(fiber)
    })
  )
})

describe("overload", () => {
  it.effect("services not reached in one cycle go first in the next: every service is read within ceil(N / reached) cycles", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const services = Array.from({ length: 10 }, (_, i) => svc(`s${i}`))
      const w = world({
        services,
        concurrency: 1,
        pollInterval: Duration.seconds(10),
        read: () => Effect.sleep("3 seconds").pipe(Effect.as(health(0)))
      })
      const summaries: Array<CycleSummary> = []
      const fiber = yield* Effect.fork(
        runForever((s) => Effect.sync(() => summaries.push(s))).pipe(Effect.provide(w.layer), Effect.provide(logs.layer))
      )
      for (let i = 0; i < 30; i++) yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      // Four are started per cycle (at 0, 3, 6 and 9 s; the fourth is cut at 10 s), six are late.
      expect(summaries.map((s) => [s.polled, s.late])).toEqual([[4, 6], [4, 6], [4, 6]])
      const byCycle = [0, 1, 2].map((c) => w.reads.filter((r) => r.at >= c * 10_000 && r.at < (c + 1) * 10_000).map((r) => r.service))
      expect(byCycle).toEqual([
        ["s0", "s1", "s2", "s3"],
        ["s4", "s5", "s6", "s7"],
        ["s8", "s9", "s0", "s1"] // s8 and s9 have waited two cycles, s0-s3 one
      ])
      expect(new Set(byCycle.flat()).size).toBe(10)
      const text = logs.lines.join("\n")
      expect(text).toContain("6 service(s) not reached within reporter.poll_interval (10s): not read this cycle, they go first in the next; the longest has waited 2 cycle(s)")
      expect(text).toContain("polled=4 healthy=3 degraded=0 outage=0 no_data=0 stale=0 failed=1 late=6")
    })
  )
})

describe("--dry-run and stale readings", () => {
  it.effect("a dry run rehearses each notification, says it would send, and counts them rehearsed, not sent", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const w = world({ services: [svc("a")], read: () => Effect.succeed(health(2)) })
      const summary = yield* runCycle.pipe(Effect.provide(w.layer), Effect.provide(logs.layer), Effect.provideService(DryRun, true))
      expect(w.sent).toEqual([])
      expect(summary).toMatchObject({ notified: 0, dryRun: 1, degraded: 1 })
      const text = logs.lines.join("\n")
      expect(text).toContain("Dry run: would send notification to dashboard (trigger): POST fake a")
      expect(text).not.toContain("Sent notification")
      expect(text).toMatch(/degraded=0 outage=1 .* rehearsed=1\/1 /)
    })
  )

  it.effect("a stale reading sends nothing and is counted as stale", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const stale: Reading = { _tag: "Stale", health: { status: 2, timestamp: new Date(0), triggeredMetrics: [] }, why: "its newest point is old" }
      const w = world({ services: [svc("a")], read: () => Effect.succeed(stale) })
      const summary = yield* runCycle.pipe(Effect.provide(w.layer), Effect.provide(logs.layer))
      expect(w.sent).toEqual([])
      expect(summary).toMatchObject({ stale: 1, failed: 0, notified: 0 })
      expect(logs.lines.join("\n")).toContain("Stale reading from convertor: its newest point is old; nothing sent")
    })
  )
})

describe("several targets", () => {
  it.effect("three targets, one down, one slow, one fine: the fine one is notified at once, the summary says which failed", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const fineAt: Array<number> = []
      const port = (name: string, notify: (n: Notification) => Effect.Effect<Delivery, TargetError>) => ({
        name,
        target: name,
        notify,
        rehearse: () => Effect.succeed(name)
      })
      const down = port("oncall", (n) =>
        Effect.fail(new TargetError({ peer: "pagerduty", label: "Notifier oncall", service: n.service, reason: "Unavailable", detail: "connection refused", retryable: false, retryAfter: Option.none() }))
      )
      const slow = port("slack", () => Effect.sleep("20 seconds").pipe(Effect.as(DELIVERED)))
      const fine = port("dashboard", () => Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.sync(() => fineAt.push(t))).pipe(Effect.as(DELIVERED)))
      const services = [svc("a"), svc("b"), svc("c")]
      const layer = Layer.mergeAll(
        Layer.succeed(Convertor, Convertor.make({ health: () => Effect.succeed(health(2)), probe: () => Effect.die("not probed"), maintenances: Effect.succeed([]) })),
        Layer.succeed(Targets, [fine, down, slow]),
        policyLayers({ dashboard: {}, oncall: {}, slack: {} }),
        Layer.succeed(AppConfig, testConfig({ services }))
      )
      const fiber = yield* Effect.fork(runCycle.pipe(Effect.provide(layer), Effect.provide(logs.layer)))
      yield* TestClock.adjust("1 millis")
      expect(fineAt).toEqual([0, 0, 0]) // not held up by the others
      yield* TestClock.adjust("20 seconds")
      const summary = yield* Fiber.join(fiber)
      expect(summary.targets).toEqual({ dashboard: { delivered: 3, attempted: 3 }, oncall: { delivered: 0, attempted: 3 }, slack: { delivered: 3, attempted: 3 } })
      expect(summary).toMatchObject({ degraded: 3, notified: 0, failed: 3 })
      const text = logs.lines.join("\n")
      expect(text).toContain("targets: dashboard=3/3 oncall=0/3 slack=3/3")
      expect(text).toContain("Sent notification to dashboard: success")
      expect(text).toContain("Sent notification to slack: success")
      expect(text).toMatch(/ERROR .*connection refused service=a/)
    })
  )

  it.effect("a slow target owes what it could not deliver in a cycle: due in the next, each notification told once", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const told: Array<{ target: string; service: string; at: number }> = []
      const port = (name: string, takes: Duration.DurationInput) => ({
        name,
        target: name,
        rehearse: () => Effect.succeed(name),
        notify: (n: Notification) =>
          Effect.sleep(takes).pipe(
            Effect.zipRight(Clock.currentTimeMillis),
            Effect.map((at) => (told.push({ target: name, service: n.service.name, at }), DELIVERED))
          )
      })
      const services = ["a", "b", "c", "d"].map(svc)
      const layer = Layer.mergeAll(
        Layer.succeed(Convertor, Convertor.make({ health: () => Effect.succeed(health(2)), probe: () => Effect.die("not probed"), maintenances: Effect.succeed([]) })),
        // With concurrency 1, the slow target delivers one notification per 25 s, two per 60 s cycle.
        Layer.succeed(Targets, [port("fast", "1 millis"), port("slow", "25 seconds")]),
        policyLayers({ fast: { mode: "on_change" }, slow: { mode: "on_change" } }),
        Layer.succeed(AppConfig, testConfig({ services, concurrency: 1 }))
      )
      const fiber = yield* Effect.fork(runForever().pipe(Effect.provide(layer), Effect.provide(logs.layer)))
      for (let i = 0; i < 4 * 60; i++) yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      const to = (target: string) => told.filter((t) => t.target === target)
      // The reads and the fast target are not held back by the slow one.
      expect(to("fast").map((t) => [t.service, t.at])).toEqual([["a", 1], ["b", 2], ["c", 3], ["d", 4]])
      // The slow one works through what it owes over the next cycles, each service once.
      expect(to("slow").map((t) => t.service).sort()).toEqual(["a", "b", "c", "d"])
      expect(logs.lines.join("\n")).toContain("Target slow: 2 notification(s) not delivered within reporter.poll_interval (1m): they stay due")
      expect(logs.lines.filter((l) => l.includes("Cycle complete")).every((l) => /polled=4 .*late=0 /.test(l))).toBe(true)
    })
  )

  it.effect("a bug of ours while notifying one service is that notification's failure; the target's line goes on", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const told: Array<string> = []
      const buggy = {
        name: "buggy",
        target: "buggy",
        rehearse: () => Effect.succeed(""),
        notify: (n: Notification) => (n.service.name === "a" ? Effect.die(new Error("boom")) : Effect.sync(() => (told.push(n.service.name), DELIVERED)))
      }
      const layer = Layer.mergeAll(
        Layer.succeed(Convertor, Convertor.make({ health: () => Effect.succeed(health(2)), probe: () => Effect.die("not probed"), maintenances: Effect.succeed([]) })),
        Layer.succeed(Targets, [buggy]),
        policyLayers({ buggy: {} }),
        Layer.succeed(AppConfig, testConfig({ services: [svc("a"), svc("b"), svc("c")], concurrency: 1 }))
      )
      const summary = yield* runCycle.pipe(Effect.provide(layer), Effect.provide(logs.layer))
      expect(told).toEqual(["b", "c"])
      expect(summary.targets).toEqual({ buggy: { delivered: 2, attempted: 3 } })
      expect(logs.lines.join("\n")).toContain("Internal error while notifying buggy (please report it): Error: boom")
    })
  )

  it.effect("a skipped notification is said at its level, counts neither as attempted nor as failed, and is counted skipped", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const counted: Array<string> = []
      const metrics: MetricsPort = { ...NONE, notification: (target, outcome) => void counted.push(`${target}:${outcome}`) }
      const skipping = { name: "status", target: "status", notify: () => Effect.succeed({ _tag: "Skipped", why: "no component", level: "warn", final: true } as const), rehearse: () => Effect.succeed("") }
      const layer = Layer.mergeAll(
        Layer.succeed(Convertor, Convertor.make({ health: () => Effect.succeed(health(1)), probe: () => Effect.die("not probed"), maintenances: Effect.succeed([]) })),
        Layer.succeed(Targets, [skipping]),
        policyLayers({ status: {} }),
        Layer.succeed(AppConfig, testConfig())
      )
      const summary = yield* runCycle.pipe(Effect.provide(layer), Effect.provideService(Metrics, metrics), Effect.provide(logs.layer))
      expect(summary).toMatchObject({ failed: 0, notified: 1, targets: { status: { delivered: 0, attempted: 0 } } })
      expect(counted).toEqual(["status:skipped"])
      expect(logs.lines.join("\n")).toContain("WARN Not sent to status: no component")
    })
  )
})

describe("a temporary skip stays due (review finding)", () => {
  it.effect("on_change: skipped for now in one cycle, the same change is offered again in the next, then recorded", () =>
    Effect.gen(function* () {
      const offered: Array<number> = []
      let calls = 0
      const stackmon = {
        name: "status",
        target: "status",
        rehearse: () => Effect.succeed(""),
        notify: () =>
          Effect.sync((): Delivery => {
            offered.push(calls)
            return calls++ === 0 ? { _tag: "Skipped", why: "component under maintenance", level: "info", final: false } : DELIVERED
          })
      }
      const layer = Layer.mergeAll(
        Layer.succeed(Convertor, Convertor.make({ health: () => Effect.succeed(health(2)), probe: () => Effect.die("not probed"), maintenances: Effect.succeed([]) })),
        Layer.succeed(Targets, [stackmon]),
        policyLayers({ status: { mode: "on_change", sendResolved: true } }),
        Layer.succeed(AppConfig, testConfig())
      )
      const fiber = yield* Effect.fork(runForever().pipe(Effect.provide(layer)))
      yield* TestClock.adjust("0 millis")
      yield* TestClock.adjust("60 seconds")
      yield* TestClock.adjust("60 seconds")
      yield* Fiber.interrupt(fiber)
      // Cycle 0: skipped for now; cycle 1: delivered; cycle 2: nothing new to say.
      expect(offered).toEqual([0, 1])
    })
  )
})

describe("a stop during a cycle", () => {
  const stopped = (takes: Duration.DurationInput, stopAt: Duration.DurationInput, targets = 1) =>
    Effect.gen(function* () {
      const told: Array<string> = []
      const started: Array<string> = []
      const port = (name: string) => ({
        name,
        target: name,
        rehearse: () => Effect.succeed(name),
        notify: (n: Notification) =>
          Effect.sync(() => started.push(`${name}:${n.service.name}`)).pipe(
            Effect.zipRight(Effect.sleep(takes)),
            Effect.map(() => (told.push(`${name}:${n.service.name}`), DELIVERED))
          )
      })
      const names = Array.from({ length: targets }, (_, i) => `t${i}`)
      const layer = Layer.mergeAll(
        Layer.succeed(Convertor, Convertor.make({ health: () => Effect.succeed(health(2)), probe: () => Effect.die("not probed"), maintenances: Effect.succeed([]) })),
        Layer.succeed(Targets, names.map(port)),
        policyLayers(Object.fromEntries(names.map((n) => [n, { mode: "on_change" as const }]))),
        Layer.succeed(AppConfig, testConfig({ services: [svc("a"), svc("b")], concurrency: 1 }))
      )
      const fiber = yield* Effect.fork(runCycle.pipe(Effect.provide(layer)))
      yield* TestClock.adjust(stopAt)
      const stopping = yield* Effect.fork(Fiber.interrupt(fiber))
      const began = yield* Clock.currentTimeMillis
      for (let i = 0; i < 100 && stopping.unsafePoll() === null; i++) yield* TestClock.adjust("100 millis")
      return { told, started, tookMs: (yield* Clock.currentTimeMillis) - began }
    })

  it.effect("a delivery on the wire is let finish; one not started is dropped", () =>
    Effect.gen(function* () {
      // One at a time: a is on the wire at 1 s, b waits for its turn.
      const { told, started, tookMs } = yield* stopped("2 seconds", "1 second")
      expect(told).toEqual(["t0:a"])
      expect(started).toEqual(["t0:a"])
      expect(tookMs).toBe(1000)
    })
  )

  it.effect("but for 3 s at most, so a stop stays prompt", () =>
    Effect.gen(function* () {
      const { told, tookMs } = yield* stopped("10 seconds", "1 second")
      expect(told).toEqual([])
      expect(tookMs).toBe(3000)
    })
  )
})

describe("a rate limit that holds a notification past the budget", () => {
  it.effect("is not a failure: said as the limit, it stays due, and its service is read first next cycle", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      let held = true
      const w = world({
        services: ["a", "b", "c"].map(svc),
        read: (s) => Effect.succeed(health(s.name === "c" ? 2 : 0)),
        notify: (n) =>
          held
            ? Effect.fail(
                new TargetError({ peer: "fake", label: "Dashboard", service: n.service, reason: "Timeout", detail: "held back", retryable: false, retryAfter: Option.none(), rateLimit: "Slack's 1 message a second per webhook" })
              )
            : Effect.void
      })
      // Two cycles of one daemon: one backlog.
      const backlog = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
      const first = yield* cycle(backlog).pipe(Effect.provide(w.layer), Effect.provide(logs.layer))
      expect(first.failed).toBe(0)
      expect(logs.lines.join("\n")).toContain("INFO Not sent to dashboard this cycle: held back by Slack's 1 message a second per webhook; it stays due and goes first next cycle")
      expect(logs.lines.join("\n")).not.toContain("raise reporter.poll_interval")
      held = false
      const before = w.reads.length
      yield* cycle(backlog).pipe(Effect.provide(w.layer), Effect.provide(logs.layer))
      expect(w.reads[before]!.service).toBe("c")
      expect(w.sent.map((n) => n.service.name)).toEqual(["c"])
    })
  )
})

describe("a target that takes a cycle's notifications together", () => {
  it.effect("gets them when the reads end; when the reads run long, what gathered by the phase budget goes then", () =>
    Effect.gen(function* () {
      const got: Array<ReadonlyArray<string>> = []
      const chat = {
        name: "chat",
        target: "fake chat",
        notify: () => Effect.die("one at a time was not expected"),
        notifyMany: (ns: ReadonlyArray<Notification>, done: (i: number, o: Either.Either<Delivery, TargetError>) => Effect.Effect<void>) =>
          Effect.zipRight(Effect.sync(() => got.push(ns.map((n) => n.service.name))), Effect.forEach(ns, (_, i) => done(i, Either.right(DELIVERED)), { discard: true })),
        rehearse: () => Effect.succeed("")
      }
      const layer = Layer.mergeAll(
        Layer.succeed(
          Convertor,
          Convertor.make({ health: (s) => (s.name === "slow" ? Effect.never : Effect.succeed(health(2))), probe: () => Effect.die("not probed"), maintenances: Effect.succeed([]) })
        ),
        Layer.succeed(Targets, [chat]),
        policyLayers({ chat: {} }),
        // A 60 s interval: the phase budget is 27 s.
        Layer.succeed(AppConfig, testConfig({ services: ["a", "b", "slow"].map(svc), concurrency: 4 }))
      )
      const fiber = yield* Effect.fork(runCycle.pipe(Effect.provide(layer)))
      yield* advance("26 seconds", "1 second")
      expect(got).toEqual([])
      yield* advance("2 seconds", "1 second")
      // One read still hangs, yet what gathered went at the budget.
      expect(got).toEqual([["a", "b"]])
      expect(fiber.unsafePoll()).toBeNull()
      yield* advance("40 seconds", "1 second")
      const summary = yield* Fiber.join(fiber)
      expect(summary.targets).toEqual({ chat: { delivered: 2, attempted: 2 } })
    })
  )
})
