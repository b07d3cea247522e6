import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { AppConfig } from "../src/Config.js"
import { Convertor } from "../src/Convertor.js"
import { readMaintenances } from "../src/Convertor/Reading.js"
import type { Health } from "../src/Domain.js"
import * as Maintenance from "../src/Maintenance.js"
import { api, captureLogs, fakeHttp, json, testConfig, text } from "./helpers.js"

const NOW = Date.parse("2026-12-01T03:00:00Z")
const at = (region?: string): Health => ({ status: 2, timestamp: new Date(NOW), triggeredMetrics: [], ...(region ? { region } : {}) })

const withWindows = (answer: Parameters<typeof fakeHttp>[0], over: Partial<{ maintenances: boolean; static: ReadonlyArray<{ services: ReadonlyArray<string>; start: number; end: number }> }> = {}) => {
  const http = fakeHttp(answer)
  const base = testConfig()
  const config = { ...base, maintenance: over.static ?? [], reporter: { ...base.reporter, maintenances: over.maintenances ?? true } }
  const layer = Maintenance.layer.pipe(Layer.provide(Convertor.Default), Layer.provide(Layer.merge(http.layer, Layer.succeed(AppConfig, config))))
  return { http, layer }
}

describe("maintenance windows", () => {
  it.effect("from the convertor, read each cycle: by service name, narrowed to a region when it names one", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const { http, layer } = withWindows(() =>
        json(200, [
          { service: "api", region: "eu-de", start: "2026-12-01T02:00:00Z", end: "2026-12-01T04:00:00Z", reason: "upgrade" },
          { service: "dns", start: "2026-12-01T02:00:00Z", end: "2026-12-01T04:00:00Z" }
        ])
      )
      const covered = yield* Effect.gen(function* () {
        const m = yield* Maintenance.Maintenance
        yield* m.refresh
        return [
          m.covers(api, at("eu-de"), NOW),
          m.covers(api, at("eu-nl"), NOW),
          m.covers({ name: "dns", environment: "production" }, at(), NOW),
          m.covers({ name: "dns", environment: "production" }, at(), Date.parse("2026-12-01T04:00:00Z"))
        ]
      }).pipe(Effect.provide(layer))
      expect(covered).toEqual([true, false, true, false])
      expect(http.requests[0]!.url.pathname).toBe("/v1/maintenances")
      expect(Object.fromEntries(http.requests[0]!.url.searchParams)).toEqual({ from: "2026-12-01T03:00:00Z", to: "2026-12-01T03:01:00Z" })
    })
  )

  it.effect("a convertor that cannot say is a warning, and holds nothing back; static windows by service/environment or *", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const start = NOW - Duration.toMillis(Duration.hours(1))
      const { layer } = withWindows(() => text(404, "no such route"), { static: [{ services: ["api/production"], start, end: NOW + 1 }] })
      const covered = yield* Effect.gen(function* () {
        const m = yield* Maintenance.Maintenance
        yield* m.refresh
        return [m.covers(api, at(), NOW), m.covers({ name: "dns", environment: "production" }, at(), NOW)]
      }).pipe(Effect.provide(layer), Effect.provide(logs.layer))
      expect(covered).toEqual([true, false])
      expect(logs.lines.join("\n")).toContain("Maintenance windows from the convertor cannot be read (answered 404): none were read before, so none apply")
    })
  )

  it.effect("an endpoint that never answers is given up within the phase budget, and the windows read last still apply", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const logs = captureLogs()
      let asked = 0
      const { layer } = withWindows(() =>
        ++asked === 1 ? json(200, [{ service: "api", start: "2026-12-01T02:00:00Z", end: "2026-12-01T04:00:00Z" }]) : "hang"
      )
      const covered = yield* Effect.gen(function* () {
        const m = yield* Maintenance.Maintenance
        yield* m.refresh
        const second = yield* Effect.fork(m.refresh)
        yield* TestClock.adjust("9 seconds") // the convertor's own timeout is 10 s; the budget of a 60 s interval 27 s
        expect(second.unsafePoll()).toBeNull()
        yield* TestClock.adjust("18 seconds")
        yield* Fiber.join(second)
        return m.covers(api, at(), NOW)
      }).pipe(Effect.provide(layer), Effect.provide(logs.layer))
      expect(covered).toBe(true)
      expect(logs.lines.join("\n")).toContain("Maintenance windows from the convertor cannot be read (")
      expect(logs.lines.join("\n")).toContain("the 1 window(s) read last still apply")
    })
  )

  it("reads the convertor's list, and refuses what is not one", () => {
    expect(readMaintenances('[{"service":"api","region":null,"start":1764554400,"end":"2026-12-01T04:00:00Z"}]')).toEqual(
      Either.right([{ service: "api", start: 1764554400000, end: Date.parse("2026-12-01T04:00:00Z") }])
    )
    expect(Either.isLeft(readMaintenances('{"service":"api"}'))).toBe(true)
    expect(Either.isLeft(readMaintenances('[{"service":"api","start":"tomorrow","end":1}]'))).toBe(true)
  })
})
