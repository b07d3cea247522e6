import { Leadership } from "../src/Leadership.js"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { jwtVerify, decodeProtectedHeader } from "jose"
import { DELIVERED } from "../src/Target.js"
import { ISSUED_BEFORE_SECONDS } from "../src/Jwt.js"
import { type Notification, notificationFor } from "../src/Domain.js"
import { Generic } from "../src/Target/Generic.js"
import { advance, type Answer, api, dashboardSpec, eventually, fakeHttp, json, type Recorded, SECRET, targetLayer, TestTarget, text } from "./helpers.js"

const NOW = Date.parse("2024-01-20T12:05:00Z")
const degraded: Notification = notificationFor(api, {
  status: 1,
  timestamp: new Date("2024-01-20T12:03:00Z"),
  triggeredMetrics: []
})

const withDashboard = (answer: (req: Recorded, n: number) => Answer) => {
  const http = fakeHttp(answer)
  return { requests: http.requests, layer: targetLayer(Generic, dashboardSpec, http.layer) }
}

const notify = (layer: Layer.Layer<TestTarget, unknown>, n: Notification = degraded) =>
  TestTarget.pipe(Effect.flatMap((d) => d.notify(n)), Effect.either, Effect.provide(layer), Effect.orDie)

describe("generic dashboard adapter", () => {
  it.effect("on a replica that no longer leads (ha), puts nothing on the wire: held back, it stays due for the leader", () =>
    Effect.gen(function* () {
      const { requests, layer } = withDashboard(() => json(201, { result: "ok" }))
      const result = yield* notify(layer).pipe(Effect.provideService(Leadership, { leading: () => false, awaitLeading: Effect.void }))
      expect(requests).toHaveLength(0)
      expect(result._tag === "Left" && result.left.rateLimit).toBe("the hand-over to the replica that leads now")
    }))

  it.effect("posts the protocol's body with a JWT that verifies with the secret and carries the same claims", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const { requests, layer } = withDashboard(() => json(201, { result: "ok" }))
      expect(yield* notify(layer)).toEqual(Either.right(DELIVERED))
      expect(requests).toHaveLength(1)
      const req = requests[0]!
      expect(req.method).toBe("POST")
      expect(req.url.toString()).toBe("http://dashboard.test/api/incidents")
      expect(req.headers["content-type"]).toBe("application/json")
      expect(JSON.parse(req.body)).toEqual({
        service: "api",
        environment: "production",
        status: 1,
        message: "Service degraded",
        timestamp: "2024-01-20T12:03:00Z"
      })
      const token = req.headers["authorization"]!.replace(/^Bearer /, "")
      expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "JWT" })
      const { payload } = yield* Effect.promise(() =>
        jwtVerify(token, new TextEncoder().encode(SECRET), { algorithms: ["HS256"], currentDate: new Date(NOW) })
      )
      expect(payload).toEqual({
        service: "api",
        environment: "production",
        status: 1,
        timestamp: Date.parse("2024-01-20T12:03:00Z") / 1000,
        iat: NOW / 1000 - ISSUED_BEFORE_SECONDS,
        exp: NOW / 1000 + 300
      })
    })
  )

  it.effect("a token signed with another secret does not verify", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const { requests, layer } = withDashboard(() => json(201, {}))
      yield* notify(layer)
      const token = requests[0]!.headers["authorization"]!.replace(/^Bearer /, "")
      const verified = yield* Effect.either(
        Effect.tryPromise(() => jwtVerify(token, new TextEncoder().encode("another-secret-another-secret-00"), { currentDate: new Date(NOW) }))
      )
      expect(Either.isLeft(verified)).toBe(true)
    })
  )

  it.effect("says \"Service outage\" for status 2", () =>
    Effect.gen(function* () {
      const { requests, layer } = withDashboard(() => json(201, {}))
      yield* notify(layer, notificationFor(api, { status: 2, timestamp: new Date(NOW), triggeredMetrics: [] }))
      expect(JSON.parse(requests[0]!.body)).toMatchObject({ status: 2, message: "Service outage" })
    })
  )

  it.effect("does not retry a 401 and points at status_dashboard.secret", () =>
    Effect.gen(function* () {
      const { requests, layer } = withDashboard(() => json(401, { message: "Invalid token" }))
      const error = Either.getLeft(yield* notify(layer)).pipe(Option.getOrThrow)
      expect(requests).toHaveLength(1)
      expect(error.reason).toBe("AuthFailed")
      expect(error.message).toMatch(/^Dashboard authentication failed: check status_dashboard\.secret/)
      expect(error.message).not.toContain(SECRET)
    })
  )

  it.effect("does not retry another 4xx and logs the status with the dashboard's message", () =>
    Effect.gen(function* () {
      const { requests, layer } = withDashboard(() => json(422, { message: "unknown service api" }))
      const error = Either.getLeft(yield* notify(layer)).pipe(Option.getOrThrow)
      expect(requests).toHaveLength(1)
      expect(error.message).toContain("rejected the notification for api in production (422: unknown service api)")
    })
  )

  it.effect("retries a 503 three times (four attempts), 1 s, 2 s and 4 s apart with jitter", () =>
    Effect.gen(function* () {
      const { requests, layer } = withDashboard(() => json(503, { message: "maintenance" }))
      const fiber = yield* Effect.fork(notify(layer))
      // Delays are 1 s, 2 s, 4 s, each jittered by 0.8-1.2.
      yield* advance("750 millis")
      expect(requests).toHaveLength(1)
      yield* advance("500 millis") // 1.25 s
      yield* eventually("the second attempt", () => requests.length === 2)
      yield* advance("1.1 seconds") // 2.35 s: the next retry is at least 0.8 + 1.6 s from the start
      expect(requests).toHaveLength(2)
      yield* advance("1.4 seconds") // 3.75 s: at most 1.2 + 2.4 s
      yield* eventually("the third attempt", () => requests.length === 3)
      yield* advance("10 seconds")
      const error = Either.getLeft(yield* Fiber.join(fiber)).pipe(Option.getOrThrow)
      expect(requests).toHaveLength(4)
      expect(error.reason).toBe("Unavailable")
      expect(error.message).toContain("answered 503: maintenance")
    })
  )

  it.effect("succeeds when a retry gets through", () =>
    Effect.gen(function* () {
      const { requests, layer } = withDashboard((_, n) => (n < 3 ? "reset" : json(201, {})))
      const fiber = yield* Effect.fork(notify(layer))
      yield* advance("10 seconds")
      yield* eventually("the third attempt", () => requests.length === 3)
      expect(yield* Fiber.join(fiber)).toEqual(Either.right(DELIVERED))
      expect(requests).toHaveLength(3)
    })
  )

  it.effect("rehearsing (--dry-run) signs but sends nothing, and describes the request without the token", () =>
    Effect.gen(function* () {
      const { requests, layer } = withDashboard(() => json(201, {}))
      const described = yield* TestTarget.pipe(Effect.flatMap((d) => d.rehearse(degraded)), Effect.provide(layer), Effect.orDie)
      expect(requests).toHaveLength(0)
      expect(described).toContain('POST http://dashboard.test/api/incidents {"service":"api"')
      expect(described).not.toMatch(/eyJ|Bearer/)
    })
  )

  it.effect("counts any 2xx as delivered, even with a body past the cap", () =>
    Effect.gen(function* () {
      const { requests, layer } = withDashboard(() => text(200, "x".repeat(200 * 1024)))
      expect(yield* notify(layer)).toEqual(Either.right(DELIVERED))
      expect(requests[0]!.limits).toMatchObject({ maxBytes: 64 * 1024, oversize: "truncate" })
    })
  )
})
