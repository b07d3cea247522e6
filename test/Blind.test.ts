/** Blind.ts: the notifiers are told when every read fails for blind_after cycles, and once more when reads work; each until it takes it. */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { AppConfig } from "../src/Config.js"
import { watchBlindness } from "../src/Blind.js"
import type { Notification } from "../src/Domain.js"
import { type CycleSummary, summarize } from "../src/Summary.js"
import { DELIVERED, TargetError, Targets } from "../src/Target.js"
import { captureLogs, dashboardSpec, storeLayer, testConfig } from "./helpers.js"

const summary = (polled: number, readFailed: number): CycleSummary => ({
  polled,
  healthy: polled - readFailed,
  degraded: 0,
  notified: 0,
  dryRun: 0,
  noData: 0,
  stale: 0,
  failed: readFailed,
  late: 0,
  readFailed,
  readError: "connection refused",
  unknown: 0,
  targets: {},
  states: { healthy: 0, degraded: 0, outage: 0, no_data: 0, stale: 0, failed: readFailed, unknown: 0, late: 0 },
  duration: Duration.seconds(1)
})

describe("blind monitoring", () => {
  it("a read cut off by the cycle's deadline (a convertor that hangs) counts as not read", () => {
    const s = summarize([{ _tag: "OutOfTime", service: { name: "a", environment: "p" } }, { _tag: "ReadFailed", service: { name: "b", environment: "p" } }], Duration.seconds(1))
    expect(s).toMatchObject({ polled: 2, readFailed: 2, readError: "reads not answered within the cycle (a convertor that hangs)" })
  })

  it.effect("every read failing 3 cycles (cut off ones included): told once; a notifier that failed is tried again; the all-clear once reads work", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const told: Array<string> = []
      let chatUp = false
      const port = (name: string, up: () => boolean) => ({
        name,
        target: name,
        notify: (n: Notification) =>
          up()
            ? Effect.sync(() => told.push(`${name}:${n.status}`)).pipe(Effect.as(DELIVERED))
            : Effect.fail(new TargetError({ peer: name, label: name, service: n.service, reason: "Unavailable", detail: "down", retryable: false, retryAfter: Option.none() })),
        rehearse: () => Effect.succeed("")
      })
      const config = {
        ...testConfig(),
        targets: [
          dashboardSpec,
          { ...dashboardSpec, type: "slack", name: "chat", path: "notifiers[0]", settings: { timeout: Duration.seconds(1) } },
          { ...dashboardSpec, type: "pagerduty", name: "pager", path: "notifiers[1]", settings: { timeout: Duration.seconds(1) } },
          { ...dashboardSpec, type: "slack", name: "quiet", path: "notifiers[2]", settings: { timeout: Duration.seconds(1), blind_alerts: false } }
        ]
      }
      const layer = Layer.mergeAll(
        Layer.succeed(AppConfig, config),
        Layer.succeed(Targets, [port("dashboard", () => true), port("chat", () => chatUp), port("pager", () => true), port("quiet", () => true)])
      )
      const watch = watchBlindness()
      const after = (s: CycleSummary) => watch(s).pipe(Effect.provide(layer), Effect.provide(logs.layer))
      yield* after(summary(4, 4))
      yield* after(summary(4, 4))
      expect(told).toEqual([])
      yield* after(summary(4, 4))
      expect(told).toEqual(["pager:2"])
      expect(logs.lines.some((l) => l.includes("Could not tell chat that monitoring is blind (tried again next cycle)"))).toBe(true)
      chatUp = true
      yield* after(summary(4, 4))
      expect(told).toEqual(["pager:2", "chat:2"])
      yield* after(summary(4, 4))
      expect(told).toHaveLength(2)
      // A read works: the all-clear, once, to those that had the notice.
      yield* after(summary(4, 1))
      yield* after(summary(4, 0))
      expect(told.slice(0, 2)).toEqual(["pager:2", "chat:2"])
      expect(told.slice(2).sort()).toEqual(["chat:0", "pager:0"])
      expect(logs.lines.filter((l) => l.includes("ERROR Monitoring is blind"))).toHaveLength(1)
    })
  )

  it.effect("what the notifiers were told is in the policy's store: a new leader (ha) or a restart with state sends the all-clear the old one owed, and no second notice", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const logs = captureLogs()
        const told: Array<string> = []
        const port = (name: string) => ({
          name,
          target: name,
          notify: (n: Notification) => Effect.sync(() => told.push(`${name}:${n.status}`)).pipe(Effect.as(DELIVERED)),
          rehearse: () => Effect.succeed("")
        })
        const config = { ...testConfig(), targets: [dashboardSpec, { ...dashboardSpec, type: "pagerduty", name: "pager", path: "notifiers[0]", settings: { timeout: Duration.seconds(1) } }] }
        const shared = yield* Layer.build(storeLayer(["dashboard", "pager"]))
        const layer = Layer.mergeAll(Layer.succeed(AppConfig, config), Layer.succeed(Targets, [port("dashboard"), port("pager")]), Layer.succeedContext(shared))
        const old = watchBlindness()
        for (let i = 0; i < 3; i++) yield* old(summary(4, 4)).pipe(Effect.provide(layer), Effect.provide(logs.layer))
        expect(told).toEqual(["pager:2"])
        // The old leader is gone; the new one starts its own count, with the same store.
        const next = watchBlindness()
        for (let i = 0; i < 3; i++) yield* next(summary(4, 4)).pipe(Effect.provide(layer), Effect.provide(logs.layer))
        expect(told).toEqual(["pager:2"])
        yield* next(summary(4, 0)).pipe(Effect.provide(layer), Effect.provide(logs.layer))
        expect(told).toEqual(["pager:2", "pager:0"])
      })
    )
  )
})
