import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import { AppConfig } from "../src/Config.js"
import { Convertor } from "../src/Convertor.js"
import { readHealth } from "../src/Convertor/Reading.js"
import { healthBody } from "../demo/Simulator.js"
import { type Answer, api, captureLogs, fakeHttp, json, type Recorded, testConfig, text } from "./helpers.js"

const NOW = Date.parse("2024-01-20T12:05:00Z")

const withConvertor = (answer: (req: Recorded, n: number) => Answer, config = testConfig()) => {
  const http = fakeHttp(answer)
  const layer = Convertor.Default.pipe(Layer.provide(Layer.merge(http.layer, Layer.succeed(AppConfig, config))))
  return { requests: http.requests, layer }
}

const readOnce = (answer: (req: Recorded, n: number) => Answer) => {
  const { layer } = withConvertor(answer)
  return Convertor.pipe(Effect.flatMap((c) => c.health(api)), Effect.either, Effect.provide(layer))
}

/** The query window of a read at NOW: from five minutes ago. */
const AT = { now: NOW, windowStart: NOW - 300_000 }
const SEC = Math.floor(NOW / 1000)

/** The health of a current reading; anything else fails the test. */
const current = (body: unknown, at = AT) => {
  const reading = Either.getOrThrow(readHealth(body, at))
  if (reading._tag !== "Current") throw new Error(`expected a current reading, got ${JSON.stringify(reading)}`)
  return reading.health
}
const tagOf = (body: unknown) => Either.map(readHealth(body, AT), (r) => r._tag)
const flat = (timestamp: unknown) => ({ service: "api", environment: "production", status: 2, timestamp })

describe("readHealth", () => {
  it("takes the newest weight of the datapoints shape, with the matched expression and triggered metrics", () => {
    const body = healthBody("api", "production", 2, "datapoints", NOW)
    const health = current(body)
    expect(health.status).toBe(2)
    expect(health.matchedExpression).toBe("api.api_down || api.api_slow")
    expect(health.triggeredMetrics).toEqual(["api.api_slow"])
    expect(health.timestamp.getTime()).toBe((SEC - 120) * 1000)
  })

  it("takes the second value of the newest pair of the tuples shape", () => {
    const body = { name: "api", environment: "production", metrics: [[SEC - 180, 2], [SEC - 120, 1]] }
    const health = current(body)
    expect(health.status).toBe(1)
    expect(health.timestamp.getTime()).toBe((SEC - 120) * 1000)
  })

  it("takes the newest point by its timestamp, not by its place in the array, in every shape", () => {
    expect(current({ metrics: [[SEC - 10, 2], [SEC - 150, 0]] }).status).toBe(2)
    expect(current({ metrics: [[SEC - 150, 2], [SEC - 10, 0]] }).status).toBe(0)
    const points = { metrics: [{ timestamp: SEC - 10, weight: 1, matched_expression: "newest" }, { timestamp: SEC - 150, weight: 0 }] }
    expect(current(points)).toMatchObject({ status: 1, matchedExpression: "newest" })
    const regions = { metrics: [{ region: "eu-de", datapoints: [[SEC - 10, 2], [SEC - 150, 0]] }] }
    expect(current(regions)).toMatchObject({ status: 2, region: "eu-de" })
  })

  it("takes the worst newest value across regions and names that region", () => {
    const body = {
      name: "api",
      category: "x",
      environment: "production",
      metrics: [
        { region: "eu-de", datapoints: [[SEC - 200, 2], [SEC - 140, 0]] },
        { region: "eu-nl", datapoints: [[SEC - 140, 1]] },
        { region: "eu-ch", datapoints: [] }
      ]
    }
    const health = current(body)
    expect(health.status).toBe(1)
    expect(health.region).toBe("eu-nl")
  })

  it("ignores a region whose newest point is stale, and is stale when every region is", () => {
    const body = {
      metrics: [
        { region: "eu-de", datapoints: [[SEC - 3600, 2]] },
        { region: "eu-nl", datapoints: [[SEC - 140, 0]] }
      ]
    }
    expect(current(body)).toMatchObject({ status: 0, region: "eu-nl" })
    expect(tagOf({ metrics: [{ region: "eu-de", datapoints: [[SEC - 3600, 2]] }] })).toEqual(Either.right("Stale"))
  })

  it("reads the flat shape with an ISO timestamp with a zone", () => {
    const health = current(flat("2024-01-20T12:03:00Z"))
    expect(health.status).toBe(2)
    expect(health.timestamp.toISOString()).toBe("2024-01-20T12:03:00.000Z")
    expect(current(flat("2024-01-20T13:03:00+01:00")).timestamp.toISOString()).toBe("2024-01-20T12:03:00.000Z")
    expect(current(flat("2024-01-20T13:03:00.250+0100")).timestamp.toISOString()).toBe("2024-01-20T12:03:00.250Z")
  })

  it("reads numbers and strings of digits as Unix seconds, and milliseconds only where nothing else makes sense", () => {
    expect(current(flat(SEC - 60)).timestamp.getTime()).toBe((SEC - 60) * 1000)
    expect(current(flat(String(SEC - 60))).timestamp.getTime()).toBe((SEC - 60) * 1000)
    const millis = readHealth(flat((SEC - 60) * 1000), AT)
    expect(millis).toEqual(Either.right(expect.objectContaining({ _tag: "Current", readAsMillis: true })))
  })

  it("rejects what is not a plausible time instead of inventing one", () => {
    for (const bad of [0, -5, 1e16, (SEC - 60) * 1_000_000, "unknown 2020", "2024-01-20T12:03:00", "2024-01-20", "yesterday", "", "0"]) {
      const result = readHealth(flat(bad), AT)
      expect(Either.isLeft(result), JSON.stringify(bad)).toBe(true)
    }
    expect(readHealth(flat("unknown 2020"), AT)).toEqual(
      Either.left('the timestamp "unknown 2020" is neither Unix seconds nor an ISO 8601 time with a zone')
    )
    expect(readHealth(flat(-5), AT)).toEqual(Either.left("the timestamp -5 is not a plausible Unix time"))
    expect(Either.isLeft(readHealth(JSON.parse('{"metrics": [[1e400, 1]]}'), AT))).toBe(true)
  })

  it("calls a reading stale when its newest point is older than the window's start or over 5 minutes ahead", () => {
    expect(tagOf(flat("1"))).toEqual(Either.right("Stale")) // 1970, never sent as a current incident
    expect(tagOf(flat(SEC - 301))).toEqual(Either.right("Stale"))
    expect(tagOf(flat(SEC - 299))).toEqual(Either.right("Current"))
    expect(tagOf(flat(SEC - 365 * 86400))).toEqual(Either.right("Stale"))
    expect(tagOf(flat(SEC + 299))).toEqual(Either.right("Current"))
    expect(tagOf(flat(SEC + 301))).toEqual(Either.right("Stale"))
    expect(tagOf(flat(SEC + 10 * 365 * 86400))).toEqual(Either.right("Stale"))
    const stale = Either.getOrThrow(readHealth(flat(SEC + 3600), AT))
    expect(stale).toMatchObject({ _tag: "Stale", why: expect.stringContaining("more than 5m in the future") })
  })

  it("reads an empty metrics array, in every shape that has one, as no data", () => {
    for (const shape of ["datapoints", "tuples", "regions", "flat"] as const) {
      expect(tagOf(healthBody("api", "production", undefined, shape, NOW))).toEqual(Either.right("NoData"))
    }
  })

  it("rejects a body of none of the shapes, and a negative or fractional status", () => {
    expect(Either.isLeft(readHealth({ hello: "world" }, AT))).toBe(true)
    expect(Either.isLeft(readHealth({ metrics: [[SEC, -1]] }, AT))).toBe(true)
    expect(Either.isLeft(readHealth({ service: "a", environment: "b", status: 1.5 }, AT))).toBe(true)
    expect(Either.isLeft(readHealth([1, 2], AT))).toBe(true)
  })
})

describe("Convertor", () => {
  it.effect("asks for the service, environment and an ISO 8601 UTC window computed from the Clock", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(NOW)
      const { requests, layer } = withConvertor(() => json(200, healthBody("api", "production", 1, "flat", NOW)))
      const result = yield* Convertor.pipe(Effect.flatMap((c) => c.health(api)), Effect.provide(layer))
      expect(result).toMatchObject({ _tag: "Current", health: { status: 1 } })
      expect(requests).toHaveLength(1)
      const url = requests[0]!.url
      expect(url.origin + url.pathname).toBe("http://convertor.test/v1/health")
      expect(Object.fromEntries(url.searchParams)).toEqual({
        service: "api",
        environment: "production",
        from: "2024-01-20T12:00:00Z",
        to: "2024-01-20T12:03:00Z"
      })
    })
  )

  it.effect("retries a 503 with exponential backoff (0.5 s, 1 s, 2 s, 4 s, jittered), then fails naming the status", () =>
    Effect.gen(function* () {
      const { requests, layer } = withConvertor(() => json(503, { message: "graphite down" }))
      const fiber = yield* Convertor.pipe(Effect.flatMap((c) => c.health(api)), Effect.either, Effect.provide(layer), Effect.fork)
      yield* TestClock.adjust("399 millis")
      expect(requests).toHaveLength(1)
      yield* TestClock.adjust("201 millis") // 0.6 s: first retry (0.4–0.6 s) done
      expect(requests).toHaveLength(2)
      yield* TestClock.adjust("0.5 seconds") // 1.1 s: second retry is at least 0.4 + 0.8 s away
      expect(requests).toHaveLength(2)
      yield* TestClock.adjust("20 seconds")
      const result = yield* Fiber.join(fiber)
      expect(requests).toHaveLength(5)
      const error = Either.getLeft(result).pipe(Option.getOrThrow)
      expect(error.reason).toBe("Unavailable")
      expect(error.status).toBe(503)
      expect(error.message).toContain("answered 503: graphite down")
      expect(error.message).toContain("api in production")
    })
  )

  it.effect("does not retry a 404 and says which service the convertor does not know", () =>
    Effect.gen(function* () {
      const { requests, layer } = withConvertor(() => json(404, { message: "Service not supported" }))
      const result = yield* Convertor.pipe(Effect.flatMap((c) => c.health(api)), Effect.either, Effect.provide(layer))
      expect(requests).toHaveLength(1)
      const error = Either.getLeft(result).pipe(Option.getOrThrow)
      expect(error.reason).toBe("Rejected")
      expect(error.message).toContain("does not know api in production (404: Service not supported)")
    })
  )

  it.effect("retries a refused connection, then gives the documented troubleshooting message", () =>
    Effect.gen(function* () {
      const { requests, layer } = withConvertor(() => "refused")
      const fiber = yield* Convertor.pipe(Effect.flatMap((c) => c.health(api)), Effect.either, Effect.provide(layer), Effect.fork)
      yield* TestClock.adjust("30 seconds")
      const error = Either.getLeft(yield* Fiber.join(fiber)).pipe(Option.getOrThrow)
      expect(requests).toHaveLength(5)
      expect(error.message).toMatch(/^Connection refused to convertor at http:\/\/convertor\.test/)
    })
  )

  it.effect("times out each attempt after convertor.timeout and gives up within 45% of the poll interval", () =>
    Effect.gen(function* () {
      const { requests, layer } = withConvertor(() => "hang")
      const fiber = yield* Convertor.pipe(Effect.flatMap((c) => c.health(api)), Effect.either, Effect.provide(layer), Effect.fork)
      yield* TestClock.adjust("9 seconds")
      expect(requests).toHaveLength(1)
      yield* TestClock.adjust("2 seconds") // 11 s: first attempt timed out at 10 s, retry after ~0.5 s
      expect(requests).toHaveLength(2)
      yield* TestClock.adjust("16 seconds") // 27 s: the budget
      const exit = yield* Fiber.await(fiber)
      expect(exit._tag).toBe("Success")
      const error = Either.getLeft(yield* Fiber.join(fiber)).pipe(Option.getOrThrow)
      expect(error.reason).toBe("Timeout")
      expect(requests).toHaveLength(3)
      // The third attempt starts about 21.5 s in: its timeout is cut to what is left of the 27 s.
      const third = Duration.toMillis(requests[2]!.limits.timeout)
      expect(third).toBeGreaterThanOrEqual(5_000)
      expect(third).toBeLessThanOrEqual(6_000)
    })
  )

  it.effect("honours Retry-After on a 429", () =>
    Effect.gen(function* () {
      const { requests, layer } = withConvertor((_, n) =>
        n === 1 ? json(429, { message: "slow down" }, { "retry-after": "7" }) : json(200, { service: "api", environment: "production", status: 0 })
      )
      const fiber = yield* Convertor.pipe(Effect.flatMap((c) => c.health(api)), Effect.provide(layer), Effect.fork)
      yield* TestClock.adjust("6900 millis")
      expect(requests).toHaveLength(1)
      yield* TestClock.adjust("200 millis")
      expect(requests).toHaveLength(2)
      expect(yield* Fiber.join(fiber)).toMatchObject({ _tag: "Current", health: { status: 0 } })
    })
  )

  it.effect("turns invalid JSON into a decode error naming the service, without retrying", () =>
    Effect.gen(function* () {
      let calls = 0
      const result = yield* readOnce(() => {
        calls++
        return text(200, "{not json")
      })
      const error = Either.getLeft(result).pipe(Option.getOrThrow)
      expect(calls).toBe(1)
      expect(error.reason).toBe("BadResponse")
      expect(error.message).toContain("unreadable answer for api in production: the body is not valid JSON")
    })
  )

  it.effect("turns a body of the wrong shape into a decode error naming the service", () =>
    Effect.gen(function* () {
      const error = Either.getLeft(yield* readOnce(() => json(200, { metrics: "many" }))).pipe(Option.getOrThrow)
      expect(error.reason).toBe("BadResponse")
      expect(error.message).toContain("api in production: not one of the known health shapes")
    })
  )

  it.effect("reads with convertor.timeout and a 1 MiB body cap", () =>
    Effect.gen(function* () {
      const { requests, layer } = withConvertor(() => json(200, { service: "api", environment: "production", status: 0 }))
      yield* Convertor.pipe(Effect.flatMap((c) => c.health(api)), Effect.provide(layer))
      expect(requests[0]!.limits.maxBytes).toBe(1024 * 1024)
      expect(Duration.toSeconds(requests[0]!.limits.timeout)).toBe(10)
      expect(requests[0]!.headers["accept"]).toBe("application/json")
    })
  )

  it.effect("reports no data for an empty metrics array", () =>
    Effect.gen(function* () {
      const result = yield* readOnce(() => json(200, { name: "api", environment: "production", metrics: [] }))
      expect(result).toEqual(Either.right({ _tag: "NoData" }))
    })
  )

  it.effect("bounds the whole read by 45% of the poll interval even with a short interval", () =>
    Effect.gen(function* () {
      const { layer } = withConvertor(() => "hang", testConfig({ pollInterval: Duration.seconds(4) }))
      const fiber = yield* Convertor.pipe(Effect.flatMap((c) => c.health(api)), Effect.either, Effect.provide(layer), Effect.fork)
      yield* TestClock.adjust("2 seconds")
      const error = Either.getLeft(yield* Fiber.join(fiber)).pipe(Option.getOrThrow)
      expect(error.reason).toBe("Timeout")
    })
  )

  it.effect("when the budget runs out during retries, fails with what the last attempt saw", () =>
    Effect.gen(function* () {
      const { requests, layer } = withConvertor(() => "refused", testConfig({ pollInterval: Duration.seconds(4) }))
      const fiber = yield* Convertor.pipe(Effect.flatMap((c) => c.health(api)), Effect.either, Effect.provide(layer), Effect.fork)
      yield* TestClock.adjust("2 seconds")
      const error = Either.getLeft(yield* Fiber.join(fiber)).pipe(Option.getOrThrow)
      expect(requests.length).toBeGreaterThanOrEqual(2) // 0 s, ~0.5 s, ~1.5 s
      expect(requests.length).toBeLessThanOrEqual(3)
      expect(error.message).toMatch(/^Connection refused to convertor/)
    })
  )
})

describe("Convertor retries and timeouts, as logged and reported", () => {
  it.effect("logs each failed attempt that will be retried at debug, with its number and the delay", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const { layer } = withConvertor((_, n) => (n < 3 ? json(503, { message: "graphite down" }) : json(200, { status: 0 })))
      const fiber = yield* Convertor.pipe(
        Effect.flatMap((c) => c.health(api)),
        Effect.provide(layer),
        Effect.provide(logs.layer),
        Logger.withMinimumLogLevel(LogLevel.Debug),
        Effect.fork
      )
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(fiber)
      const retries = logs.lines.filter((l) => l.includes("DEBUG"))
      expect(retries).toHaveLength(2)
      expect(retries[0]).toMatch(/Convertor attempt 1 failed, retrying in 0\.[4-6]\ds: Convertor at http:\/\/convertor\.test unreachable .*answered 503: graphite down/)
      expect(retries[1]).toMatch(/Convertor attempt 2 failed, retrying in (0\.[89]\d|1\.[0-2]\d)s: /)
    })
  )

  it.effect("when the phase budget, not convertor.timeout, ends the read, the error says to raise the interval or concurrency", () =>
    Effect.gen(function* () {
      const { layer } = withConvertor(() => "hang")
      const fiber = yield* Convertor.pipe(Effect.flatMap((c) => c.health(api)), Effect.either, Effect.provide(layer), Effect.fork)
      yield* TestClock.adjust("30 seconds")
      const error = Either.getLeft(yield* Fiber.join(fiber)).pipe(Option.getOrThrow)
      expect(error.reason).toBe("Timeout")
      // Attempts at 0 s and ~10.5 s timed out after convertor.timeout; the third was cut by the 27 s budget.
      expect(error.message).toContain("the 27s budget (45% of reporter.poll_interval) ran out; raise reporter.poll_interval or reporter.concurrency")
      expect(error.message).not.toContain("within 10s")
    })
  )

  it.effect("an attempt that ends on convertor.timeout says so, and to raise it if the convertor is just slow", () =>
    Effect.gen(function* () {
      const { layer } = withConvertor((_, n) => (n === 1 ? "hang" : json(404, { message: "gone" })))
      const logs = captureLogs()
      const fiber = yield* Convertor.pipe(
        Effect.flatMap((c) => c.health(api)),
        Effect.either,
        Effect.provide(layer),
        Effect.provide(logs.layer),
        Logger.withMinimumLogLevel(LogLevel.Debug),
        Effect.fork
      )
      yield* TestClock.adjust("12 seconds")
      yield* Fiber.join(fiber)
      expect(logs.lines.join("\n")).toContain("no complete answer within 10s (convertor.timeout; raise it if the peer is just slow)")
    })
  )
})
