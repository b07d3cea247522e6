/**
 * The notification policy over simulated time: change detection, thresholds,
 * reminders, recoveries, retries of what failed, maintenance, and state that
 * survives a restart. The cycle runs as in production (runForever), the
 * convertor reads from a script, targets record what they are told.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AppConfig } from "../src/Config.js"
import { Convertor } from "../src/Convertor.js"
import { TargetError, DELIVERED, type TargetPort, Targets } from "../src/Target.js"
import type { Notification, Reading } from "../src/Domain.js"
import { type NotifyPolicy, observe, policyFor, FRESH, due, routesOf } from "../src/Policy.js"
import * as Policy from "../src/Policy.js"
import * as Store from "../src/PolicyStore.js"
import { keyOf, PolicyStore } from "../src/PolicyStore.js"
import { Metrics, type MetricsPort, NONE } from "../src/Metrics.js"
import { runForever } from "../src/Reporter.js"
import { captureLogs, eventually, policyLayers, storeLayer, testConfig } from "./helpers.js"

const MINUTE = 60_000
const reading = (status: number): Reading => ({ _tag: "Current", health: { status, timestamp: new Date(0), triggeredMetrics: [] }, readAsMillis: false })

interface Sent {
  readonly target: string
  readonly status: number
  readonly message: string
  readonly at: number
}

/**
 * Runs `cycles` cycles, one a minute, the convertor answering `statuses[i]`
 * in cycle i (a string "fail" for a failed read); each target records what
 * it is told, `fails(target, cycle)` makes a delivery fail.
 */
const simulate = (o: {
  readonly statuses: ReadonlyArray<number | "fail">
  readonly policies: Record<string, Partial<NotifyPolicy>>
  readonly fails?: (target: string, cycle: number) => boolean
  readonly inMaintenance?: (now: number) => boolean
  readonly stateFile?: string
  readonly interval?: Duration.Duration
}) =>
  Effect.gen(function* () {
    const interval = o.interval ?? Duration.minutes(1)
    const sent: Array<Sent> = []
    let cycle = -1
    const convertor = Convertor.make({
      maintenances: Effect.succeed([]),
      probe: () => Effect.die("not probed"),
      health: () =>
        Effect.suspend(() => {
          cycle++
          const s = o.statuses[Math.min(cycle, o.statuses.length - 1)]!
          return s === "fail"
            ? Effect.fail(new (class extends Error {})() as never)
            : Effect.succeed(reading(s))
        })
    })
    const port = (name: string): TargetPort => ({
      name,
      target: name,
      rehearse: () => Effect.succeed(""),
      notify: (n: Notification) =>
        Effect.suspend(() =>
          o.fails?.(name, cycle)
            ? Effect.fail(new TargetError({ peer: name, label: name, service: n.service, reason: "Unavailable", detail: "down", retryable: false, retryAfter: Option.none() }))
            : Effect.sync(() => sent.push({ target: name, status: n.status, message: n.message, at: cycle })).pipe(Effect.as(DELIVERED))
        )
    })
    const layer = Layer.mergeAll(
      Layer.succeed(Convertor, convertor),
      Layer.succeed(Targets, Object.keys(o.policies).map(port)),
      policyLayers(o.policies, {
        ...(o.stateFile === undefined ? {} : { stateFile: o.stateFile }),
        inMaintenance: (_s, _h, now) => o.inMaintenance?.(now) ?? false
      }),
      Layer.succeed(AppConfig, testConfig({ pollInterval: interval }))
    )
    const logs = captureLogs()
    const fiber = yield* Effect.fork(runForever().pipe(Effect.provide(layer), Effect.provide(logs.layer)))
    // Each cycle ends (its state file written: real I/O) before the clock moves on to the next.
    const ended = () => logs.lines.filter((l) => l.includes("Cycle complete")).length
    for (let i = 0; i < o.statuses.length; i++) {
      yield* TestClock.adjust(i === 0 ? Duration.zero : interval)
      yield* eventually(`cycle ${i + 1} to end`, () => ended() > i)
    }
    yield* Fiber.interrupt(fiber)
    return { sent, logs: logs.lines }
  })

const onChange: Partial<NotifyPolicy> = { mode: "on_change", sendResolved: true }

describe("thresholds and flapping", () => {
  it.effect("flapping 0,1,0,1,… with failure_threshold 2 sends nothing; 1,1 sends once", () =>
    Effect.gen(function* () {
      const flapping = yield* simulate({ statuses: [0, 1, 0, 1, 0, 1, 0, 1], policies: { slack: { ...onChange, failureThreshold: 2 } } })
      expect(flapping.sent).toEqual([])
      const steady = yield* simulate({ statuses: [0, 1, 1, 1, 1], policies: { slack: { ...onChange, failureThreshold: 2 } } })
      expect(steady.sent.map((s) => [s.status, s.at])).toEqual([[1, 2]])
    })
  )

  it("success_threshold holds the recovery until enough healthy readings in a row", () => {
    const p = { ...policyFor("on_change"), successThreshold: 2 }
    let t = FRESH
    for (const status of [2, 0]) t = observe(p, t, status)
    expect(t.effective).toBe(2)
    t = observe(p, t, 0)
    expect(t.effective).toBe(0)
    expect(due(p, { ...t, delivered: 2 }, 0, false).due).toEqual(Option.some("resolved"))
  })
})

describe("on_change, reminders and recoveries", () => {
  it.effect("an outage over 2 simulated hours with repeat_interval 1800 s sends 1 + 3 reminders; worsening 1 -> 2 sends one more", () =>
    Effect.gen(function* () {
      // Cycles every 10 minutes: 12 cycles are two hours (0 … 110 min).
      const statuses = [...Array(12).fill(1), 2]
      const { sent } = yield* simulate({ statuses, policies: { slack: { ...onChange, repeatInterval: Duration.seconds(1800) } }, interval: Duration.minutes(10) })
      expect(sent.map((s) => [s.status, s.at])).toEqual([[1, 0], [1, 3], [1, 6], [1, 9], [2, 12]])
    })
  )

  it.effect("send_resolved: exactly one recovery per outage per target", () =>
    Effect.gen(function* () {
      const { sent } = yield* simulate({ statuses: [0, 2, 2, 0, 0, 0, 1, 0, 0], policies: { slack: onChange, pagerduty: onChange } })
      for (const target of ["slack", "pagerduty"]) {
        expect(sent.filter((s) => s.target === target).map((s) => [s.status, s.message, s.at])).toEqual([
          [2, "Service outage", 1],
          [0, "Service recovered", 3],
          [1, "Service degraded", 6],
          [0, "Service recovered", 7]
        ])
      }
    })
  )

  it.effect("a recovery that fails to deliver is retried next cycle and delivered exactly once", () =>
    Effect.gen(function* () {
      const { sent } = yield* simulate({ statuses: [2, 0, 0, 0, 0], policies: { slack: onChange }, fails: (_, cycle) => cycle === 1 || cycle === 2 })
      expect(sent.map((s) => [s.status, s.at])).toEqual([[2, 0], [0, 3]])
    })
  )

  it.effect("a failed or stale read changes nothing and sends nothing", () =>
    Effect.gen(function* () {
      const { sent } = yield* simulate({ statuses: [2, "fail", "fail", 2, 0], policies: { slack: onChange } })
      expect(sent.map((s) => [s.status, s.at])).toEqual([[2, 0], [0, 4]])
    })
  )

  it.effect("two targets with different policies see the same readings and act independently", () =>
    Effect.gen(function* () {
      const { sent } = yield* simulate({ statuses: [1, 1, 1, 0, 0], policies: { dashboard: {}, slack: onChange } })
      expect(sent.filter((s) => s.target === "dashboard").map((s) => [s.status, s.at])).toEqual([[1, 0], [1, 1], [1, 2]])
      expect(sent.filter((s) => s.target === "slack").map((s) => [s.status, s.at])).toEqual([[1, 0], [0, 3]])
    })
  )
})

describe("maintenance", () => {
  it.effect("a window suppresses notifications; the first poll after it notifies a still-unhealthy service again", () =>
    Effect.gen(function* () {
      // Degraded throughout; a window from minute 1 to minute 4.
      const { sent } = yield* simulate({
        statuses: [1, 1, 1, 1, 1, 1],
        policies: { slack: onChange, dashboard: {} },
        inMaintenance: (now) => now >= 1 * MINUTE && now < 4 * MINUTE
      })
      expect(sent.filter((s) => s.target === "slack").map((s) => s.at)).toEqual([0, 4])
      expect(sent.filter((s) => s.target === "dashboard").map((s) => s.at)).toEqual([0, 4, 5])
    })
  )
})

describe("state across restarts", () => {
  const dir = () => mkdtempSync(join(tmpdir(), "cmr-state-"))

  it.effect("with state_file, a restart sends no duplicate and no stale resolved", () =>
    Effect.gen(function* () {
      const file = join(dir(), "state.json")
      const first = yield* simulate({ statuses: [2, 2], policies: { slack: onChange }, stateFile: file })
      expect(first.sent.map((s) => s.status)).toEqual([2])
      expect(existsSync(file)).toBe(true)
      // Restarted during the same outage: nothing new to say.
      const again = yield* simulate({ statuses: [2, 2], policies: { slack: onChange }, stateFile: file })
      expect(again.sent).toEqual([])
      // Recovered, then restarted: the recovery is sent once, and never again after the next restart.
      const recovered = yield* simulate({ statuses: [0], policies: { slack: onChange }, stateFile: file })
      expect(recovered.sent.map((s) => s.status)).toEqual([0])
      const later = yield* simulate({ statuses: [0, 0], policies: { slack: onChange }, stateFile: file })
      expect(later.sent).toEqual([])
      expect(readFileSync(file, "utf8")).toContain('"version":1')
    })
  )

  it.effect("a corrupt state file is a warning and an empty start, never a crash", () =>
    Effect.gen(function* () {
      const file = join(dir(), "state.json")
      writeFileSync(file, "{not json")
      const { sent, logs } = yield* simulate({ statuses: [2], policies: { slack: onChange }, stateFile: file })
      expect(sent.map((s) => s.status)).toEqual([2])
      expect(logs.join("\n")).toContain(`WARN reporter.state_file ${file} cannot be read (not a state file of this program): starting with no notification state`)
      expect(JSON.parse(readFileSync(file, "utf8")).version).toBe(1)
    })
  )

  it.effect("without state_file, a restart starts afresh: an ongoing outage is notified again", () =>
    Effect.gen(function* () {
      const first = yield* simulate({ statuses: [2, 2], policies: { slack: onChange } })
      const again = yield* simulate({ statuses: [2, 2], policies: { slack: onChange } })
      expect([first.sent.length, again.sent.length]).toEqual([1, 1])
    })
  )
})

describe("what is sent is the effective status (review findings)", () => {
  it.effect("a failed outage notification is retried as the outage, even when healthy readings below the threshold follow", () =>
    Effect.gen(function* () {
      // success_threshold 3: 2 (delivery fails), 0, 0 is still an outage; 0 three times is a recovery.
      const { sent } = yield* simulate({ statuses: [2, 0, 0, 0], policies: { pd: { ...onChange, successThreshold: 3 } }, fails: (_, cycle) => cycle === 0 })
      expect(sent.map((s) => [s.status, s.at])).toEqual([[2, 1], [0, 3]])
    })
  )

  it.effect("every_poll with success_threshold 2: one healthy reading between outages sends no early recovery", () =>
    Effect.gen(function* () {
      const { sent } = yield* simulate({ statuses: [2, 2, 0, 2], policies: { dashboard: { mode: "every_poll", sendResolved: true, successThreshold: 2 } } })
      expect(sent.map((s) => s.status)).toEqual([2, 2, 2, 2])
    })
  )

  it.effect("a reminder carries the effective status, so it is not sent again every cycle", () =>
    Effect.gen(function* () {
      // success_threshold 3 holds healthy readings back while the outage stands; a reminder every minute says "outage".
      const { sent } = yield* simulate({ statuses: [2, 0, 0, 0], policies: { slack: { ...onChange, successThreshold: 3, repeatInterval: Duration.minutes(1) } } })
      expect(sent.map((s) => [s.status, s.message, s.at])).toEqual([
        [2, "Service outage", 0],
        [2, "Service outage", 1],
        [2, "Service outage", 2],
        [0, "Service recovered", 3]
      ])
    })
  )

  it.effect("1,2,1,2 with failure_threshold 2 is an outage all along, and is notified", () =>
    Effect.gen(function* () {
      const { sent } = yield* simulate({ statuses: [1, 2, 1, 2], policies: { slack: { ...onChange, failureThreshold: 2 } } })
      expect(sent[0]).toMatchObject({ status: 2, at: 1 })
    })
  )
})

describe("the state file after a configuration change", () => {
  it.effect("forgets the tracks of services and targets no longer configured, and says so in the next write", () =>
    Effect.gen(function* () {
      const file = join(mkdtempSync(join(tmpdir(), "cmr-state-")), "state.json")
      const track = { ...FRESH, candidate: 2, streak: 1, effective: 2, delivered: 2, lastSentAt: 0 }
      const tracks = Object.fromEntries(
        [["slack", "api"], ["slack", "gone"], ["removed-target", "api"]].map(([t, s]) => [JSON.stringify([t, s, "production"]), track])
      )
      writeFileSync(file, JSON.stringify({ version: 1, tracks }))
      const store = yield* Effect.provide(PolicyStore, storeLayer(["slack"], file, [{ name: "api", environment: "production" }]))
      expect(store.get(JSON.stringify(["slack", "gone", "production"]))).toEqual(FRESH)
      expect(store.get(JSON.stringify(["removed-target", "api", "production"]))).toEqual(FRESH)
      expect(store.get(JSON.stringify(["slack", "api", "production"]))).toEqual(track)
      yield* store.persist
      expect(Object.keys(JSON.parse(readFileSync(file, "utf8")).tracks)).toEqual([JSON.stringify(["slack", "api", "production"])])
    })
  )
})

describe("the state file's leftovers", () => {
  it.effect("a temporary file that a killed process left behind is removed at start; a live process's is not", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "cmr-state-"))
      const file = join(dir, "state.json")
      // No process has this pid (above Linux's pid_max default of 4194304); the parent of this test is alive.
      const gone = `${file}.4194999.tmp`
      const live = `${file}.${process.ppid}.tmp`
      writeFileSync(gone, "{")
      writeFileSync(live, "{")
      const store = yield* Effect.provide(PolicyStore, storeLayer(["slack"], file))
      expect(store.get(JSON.stringify(["slack", "api", "production"]))).toEqual(FRESH)
      expect(existsSync(gone)).toBe(false)
      expect(existsSync(live)).toBe(true)
    })
  )
})

describe("a state file that cannot be saved", () => {
  it.effect("one error per streak of failures, each counted; a save that works again says so; `saving` tells --once", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      let works = false
      let counted = 0
      const backend = { load: Effect.succeed(new Map()), save: () => (works ? Effect.void : Effect.fail("state.json: disk full")) }
      const api = { name: "api", environment: "production" }
      const store = yield* Effect.provide(PolicyStore, Store.layer({ services: [api], targets: [], backend }))
      const metrics: MetricsPort = { ...NONE, stateWriteFailure: () => void counted++ }
      const save = (n: number) =>
        Effect.gen(function* () {
          store.set(keyOf("dashboard", api), { ...FRESH, delivered: n })
          yield* store.persist
        }).pipe(Effect.provideService(Metrics, metrics), Effect.provide(logs.layer))
      yield* save(1)
      yield* save(2)
      expect(store.saving()).toBe(false)
      expect(counted).toBe(2)
      expect(logs.lines.filter((l) => l.includes("ERROR") && l.includes("state.json: disk full: what was sent is not saved"))).toHaveLength(1)
      works = true
      yield* save(3)
      expect(store.saving()).toBe(true)
      expect(logs.lines.filter((l) => l.includes("The state file is written again"))).toHaveLength(1)
    })
  )
})

describe("routing (match/exclude)", () => {
  it("a service is for a target when it matches every list match gives, and not when it matches every list exclude gives", () => {
    const spec = (settings: Record<string, unknown>) => ({ type: "slack", name: "t", path: "notifiers[0]", settings, secrets: {}, secretMaps: {} })
    const s = (name: string, environment: string) => ({ name, environment })
    const services = [s("api", "production"), s("api", "staging"), s("batch-1", "production"), s("web", "prod-eu")]
    const route = (settings: Record<string, unknown>) => routesOf([spec(settings)], services).get("t")
    const chosen = (settings: Record<string, unknown>) => services.filter((x) => route(settings)!(x)).map((x) => `${x.name}/${x.environment}`)
    expect(route({})).toBeUndefined()
    expect(chosen({ match: { environments: ["prod*"] } })).toEqual(["api/production", "batch-1/production", "web/prod-eu"])
    expect(chosen({ match: { environments: ["production"], services: ["api", "web"] } })).toEqual(["api/production"])
    expect(chosen({ match: { environments: ["production"] }, exclude: { services: ["batch-*"] } })).toEqual(["api/production"])
    // exclude needs every list it gives: batch in staging would still be sent.
    expect(chosen({ exclude: { services: ["api"], environments: ["staging"] } })).toEqual(["api/production", "batch-1/production", "web/prod-eu"])
    // A dot in a name is a dot, not any character.
    expect(routesOf([spec({ match: { services: ["a.i"] } })], [s("api", "x"), s("a.i", "x")]).get("t")!(s("api", "x"))).toBe(false)
  })
})

describe("a routing change", () => {
  it.effect("a target told a service is unhealthy, and no longer routed it, is said once: its alert would stay open", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const api = { name: "api", environment: "staging" }
      const store = yield* Effect.provide(PolicyStore, Store.layer({ services: [api], targets: [], backend: undefined }))
      store.set(keyOf("oncall", api), { ...FRESH, delivered: 2 })
      const layer = Policy.layer({ policies: new Map(), inMaintenance: () => false, routes: new Map([["oncall", () => false]]), services: [api] }).pipe(
        Layer.provide(Layer.succeed(PolicyStore, store))
      )
      yield* Effect.flatMap(Policy.Policy, () => Effect.void).pipe(Effect.provide(layer), Effect.provide(logs.layer))
      expect(logs.lines.filter((l) => l.includes("oncall was told that api in staging is unhealthy, and its match/exclude no longer routes it there"))).toHaveLength(1)
    })
  )
})
