/**
 * The metrics and health endpoint: the figures after real cycles (the real
 * convertor client, dashboard adapter and policy over a fake HTTP layer),
 * /healthz when the loop is stuck (TestClock), and the server's bounds.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as net from "node:net"
import { makeSigner } from "../src/Jwt.js"
import { Metrics, type MetricsPort } from "../src/Metrics.js"
import * as Liveness from "../src/Liveness.js"
import * as Observability from "../src/Observability.js"
import * as Server from "../src/Observability/Server.js"
import { Policy } from "../src/Policy.js"
import { servicesLayer } from "../src/Program.js"
import * as RateLimits from "../src/RateLimits.js"
import { runCycle, runForever } from "../src/Reporter.js"
import { healthBody } from "../demo/Simulator.js"
import { advance, captureLogs, eventually, fakeHttp, json, policyLayers, storeLayer, testConfig } from "./helpers.js"
import { Convertor } from "../src/Convertor.js"
import { DELIVERED, Targets } from "../src/Target.js"
import { AppConfig } from "../src/Config.js"

const LOOPBACK = { host: "127.0.0.1", port: 0 }

/** The endpoint on loopback, over a liveness of its own (returned too: the daemon's loop and generations tell it). */
const open = (interval: Duration.Duration) =>
  Effect.gen(function* () {
    const liveness = yield* Layer.build(Liveness.layer(interval))
    const endpoint = yield* Observability.serve(LOOPBACK, "9.9.9").pipe(Effect.provide(liveness))
    return { endpoint, liveness, ...Context.get(liveness, Liveness.Liveness) }
  })

const get = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const res = await fetch(url, init)
    return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() }
  })

/** The value of one series in a Prometheus text exposition, or undefined when it is absent. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

const svc = (name: string) => ({ name, environment: "production" })

describe("/metrics", () => {
  it.scoped("counts cycles, service states, convertor reads, notifications and retries as they happened", () =>
    Effect.gen(function* () {
      const T0 = Date.parse("2026-11-28T12:00:00Z")
      yield* TestClock.setTime(T0)
      const { endpoint } = yield* open(Duration.seconds(60))
      endpoint.metrics.targets(["dashboard"])
      let flaky = 0
      const http = fakeHttp((req) => {
        const service = req.url.searchParams.get("service")
        if (req.url.hostname === "convertor.test") {
          if (service === "gone") return json(404, { message: "Service not supported" })
          if (service === "flaky" && flaky++ === 0) return json(503, { message: "busy" })
          const status = { api: 1, db: 2, web: 0, flaky: 1 }[service ?? ""] ?? 0
          return json(200, healthBody(service!, "production", status, "datapoints", T0))
        }
        // The dashboard refuses db's incident for good (400), takes the rest.
        return JSON.parse(req.body).service === "db" ? json(400, { message: "no such component" }) : json(200, {})
      })
      const config = testConfig({ services: ["api", "db", "web", "flaky", "gone"].map(svc), concurrency: 5 })
      const services = yield* Layer.build(
        servicesLayer(config, { dryRun: false }).pipe(Layer.provide(Layer.mergeAll(http.layer, RateLimits.layer, storeLayer(["dashboard"]))))
      )
      const logs = captureLogs()
      const cycle = runCycle.pipe(Effect.provide(services), Effect.provideService(Metrics, endpoint.metrics), Effect.provide(logs.layer), Effect.fork)
      for (let i = 0; i < 2; i++) {
        const fiber = yield* cycle
        yield* advance("10 seconds", "250 millis")
        yield* Fiber.join(fiber)
      }
      const metrics = yield* get(`${endpoint.url}/metrics`)
      expect(metrics.status).toBe(200)
      expect(metrics.type).toContain("text/plain")
      const m = (series: string) => sample(metrics.body, `cloudmon_reporter_${series}`)
      expect(m("cycles_total")).toBe(2)
      expect(m("cycle_duration_seconds_count")).toBe(2)
      expect(m("last_cycle_timestamp_seconds")).toBeGreaterThanOrEqual(T0 / 1000 + 10)
      expect(m("last_cycle_timestamp_seconds")).toBeLessThan(T0 / 1000 + 20)
      expect(m('services{state="healthy"}')).toBe(1)
      expect(m('services{state="degraded"}')).toBe(2)
      expect(m('services{state="outage"}')).toBe(1)
      expect(m('services{state="failed"}')).toBe(1)
      expect(m('services{state="late"}')).toBe(0)
      expect(m('convertor_requests_total{outcome="ok"}')).toBe(8)
      expect(m('convertor_requests_total{outcome="failed"}')).toBe(2)
      // The first read of flaky was retried once; the 404 is not worth a retry.
      expect(m('retries_total{peer="convertor"}')).toBe(1)
      // api and flaky delivered twice each; db refused twice.
      expect(m('notifications_total{target="dashboard",outcome="delivered"}')).toBe(4)
      expect(m('notifications_total{target="dashboard",outcome="failed"}')).toBe(2)
      expect(m("jwt_sign_failures_total")).toBe(0)
      expect(m('build_info{version="9.9.9"}')).toBe(1)
      expect(sample(metrics.body, "process_resident_memory_bytes")).toBeGreaterThan(0)
    })
  )

  it.scoped("a target that a reload removed or renamed loses its series", () =>
    Effect.gen(function* () {
      const { endpoint } = yield* open(Duration.seconds(60))
      endpoint.metrics.targets(["dashboard", "old-name"])
      endpoint.metrics.notification("old-name", "delivered")
      expect((yield* get(`${endpoint.url}/metrics`)).body).toContain('target="old-name"')
      for (let i = 0; i < 30; i++) endpoint.metrics.targets(["dashboard", `name-${i}`])
      const body = (yield* get(`${endpoint.url}/metrics`)).body
      expect(body).not.toContain('target="old-name"')
      expect(body).not.toContain('peer="old-name"')
      expect(body).not.toContain('target="name-28"')
      expect(body).toContain('target="name-29"')
      // Two targets, four outcomes each (delivered, failed, refused, skipped).
      expect(body.split("\n").filter((l) => l.startsWith("cloudmon_reporter_notifications_total{"))).toHaveLength(8)
    })
  )

  it.scoped("convertor_up is 0 after a cycle whose every read failed, 1 after one that read something", () =>
    Effect.gen(function* () {
      const { endpoint } = yield* open(Duration.seconds(60))
      const up = () => Effect.map(get(`${endpoint.url}/metrics`), (r) => /^cloudmon_reporter_convertor_up (\d)$/m.exec(r.body)?.[1])
      endpoint.metrics.convertorUp(false)
      expect(yield* up()).toBe("0")
      endpoint.metrics.convertorUp(true)
      expect(yield* up()).toBe("1")
    })
  )

  it.effect("a token that cannot be signed is counted", () =>
    Effect.gen(function* () {
      let failures = 0
      const port: MetricsPort = { ...(yield* Metrics), jwtSignFailure: () => void failures++ }
      const signer = yield* makeSigner(Redacted.make("a-secret-long-enough-for-hs256-signing-0123"))
      // A claim JSON cannot write: jose rejects it.
      const signed = yield* Effect.either(signer.sign({ big: 1n }, 0).pipe(Effect.provideService(Metrics, port)))
      expect(signed._tag).toBe("Left")
      expect(failures).toBe(1)
    })
  )
})

describe("/healthz and /readyz", () => {
  it.scoped("/healthz turns 503 when no cycle completes for 2 intervals + the budgets, and 200 once one does", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const { endpoint, liveness } = yield* open(Duration.seconds(60))
      // The state file cannot be written: the loop hangs in the first cycle's end until the gate opens.
      const gate = yield* Deferred.make<void>()
      const stuckPolicy = Layer.effect(Policy, Effect.map(Policy, (p) => ({ ...p, persist: Deferred.await(gate) }))).pipe(Layer.provide(policyLayers()))
      const layer = Layer.mergeAll(
        Layer.succeed(Convertor, Convertor.make({ health: () => Effect.succeed({ _tag: "NoData" }), probe: () => Effect.die("not probed"), maintenances: Effect.succeed([]) })),
        Layer.succeed(Targets, [{ name: "dashboard", target: "fake", notify: () => Effect.succeed(DELIVERED), rehearse: () => Effect.succeed("") }]),
        policyLayers(),
        stuckPolicy,
        Layer.succeed(AppConfig, testConfig({ services: [svc("api")] }))
      )
      const loop = yield* Effect.fork(runForever().pipe(Effect.provide(layer), Effect.provide(liveness), Effect.provide(logs.layer)))
      const limit = Duration.toSeconds(Observability.livenessLimit(Duration.seconds(60)))
      expect(limit).toBe(2 * 60 + 2 * 27)

      yield* advance("100 seconds", "10 seconds")
      expect((yield* get(`${endpoint.url}/healthz`)).status).toBe(200)
      yield* advance("100 seconds", "10 seconds")
      const stuck = yield* get(`${endpoint.url}/healthz`)
      expect(stuck.status).toBe(503)
      expect(JSON.parse(stuck.body)).toEqual({
        status: "stalled",
        reason: "no poll cycle completed for 200s (limit 174s: 2 x reporter.poll_interval + the phase budgets); the poll loop is stuck"
      })
      expect(stuck.body.trim().split("\n")).toHaveLength(1)

      yield* Deferred.succeed(gate, undefined)
      yield* eventually("the cycle to complete", () => logs.lines.some((l) => l.includes("Cycle complete")))
      const back = yield* get(`${endpoint.url}/healthz`)
      expect(back.status).toBe(200)
      expect(JSON.parse(back.body)).toEqual({ status: "ok", last_cycle_seconds_ago: 0 })
      yield* Fiber.interrupt(loop)
    })
  )

  it.scoped("after a reload to a shorter interval, /healthz keeps the longer one until a cycle on the new one completes", () =>
    Effect.gen(function* () {
      const { endpoint, configured, cycleCompleted } = yield* open(Duration.seconds(20))
      yield* configured(Duration.seconds(2)) // what the generations do when a reload is taken up
      yield* TestClock.adjust("30 seconds")
      expect((yield* get(`${endpoint.url}/healthz`)).status).toBe(200) // within 2 x 20 s + budgets
      yield* cycleCompleted(30_000)
      yield* TestClock.adjust("6 seconds")
      const after = yield* get(`${endpoint.url}/healthz`)
      expect(after.status).toBe(503)
      expect(JSON.parse(after.body).reason).toContain("limit 5.8s")
    })
  )

  it.scoped("/readyz is 503 until the daemon says it is ready", () =>
    Effect.gen(function* () {
      const { endpoint, configured } = yield* open(Duration.seconds(60))
      const before = yield* get(`${endpoint.url}/readyz`)
      expect(before.status).toBe(503)
      expect(JSON.parse(before.body).reason).toContain("setting up the targets")
      yield* configured(Duration.seconds(60))
      expect((yield* get(`${endpoint.url}/readyz`)).status).toBe(200)
    })
  )
})

/** Raw bytes to the endpoint; resolves with what came back when the server closed the connection (or after `limitMs`). */
const raw = (url: string, write: (socket: net.Socket) => void, limitMs = 10_000) =>
  Effect.promise(
    () =>
      new Promise<{ text: string; closedAfterMs: number }>((resolve) => {
        const { hostname, port } = new URL(url)
        const started = Date.now()
        let text = ""
        const socket = net.connect(Number(port), hostname, () => write(socket))
        socket.on("data", (chunk) => (text += chunk.toString()))
        socket.on("error", () => {})
        socket.on("close", () => resolve({ text, closedAfterMs: Date.now() - started }))
        setTimeout(() => socket.destroy(), limitMs).unref()
      })
  )

describe("the endpoint's bounds", () => {
  it.scoped("other paths are 404, other methods 405, HEAD has no body", () =>
    Effect.gen(function* () {
      const { endpoint } = yield* open(Duration.seconds(60))
      expect((yield* get(`${endpoint.url}/`)).status).toBe(404)
      const post = yield* get(`${endpoint.url}/metrics`, { method: "POST", body: "x" })
      expect(post.status).toBe(405)
      const head = yield* get(`${endpoint.url}/healthz`, { method: "HEAD" })
      expect(head).toMatchObject({ status: 200, body: "" })
      expect((yield* get(`${endpoint.url}/healthz?verbose=1`)).status).toBe(200)
    })
  )

  it.live("a path that only looks like /metrics is 404 (no normalising of ..)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { endpoint } = yield* open(Duration.seconds(60))
        const result = yield* raw(endpoint.url, (socket) => socket.write("GET /metrics/../admin HTTP/1.1\r\nHost: x\r\n\r\n"))
        expect(result.text).toMatch(/^HTTP\/1\.1 404 /)
      })
    )
  )

  it.live("idle connections held open at the cap give way: the probe still gets its answer", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { endpoint } = yield* open(Duration.seconds(60))
        const { hostname, port } = new URL(endpoint.url)
        const idle = Array.from({ length: Server.MAX_CONNECTIONS + 6 }, () => net.connect(Number(port), hostname).on("error", () => {}))
        yield* Effect.addFinalizer(() => Effect.sync(() => idle.forEach((s) => s.destroy())))
        yield* Effect.promise(() => Promise.all(idle.map((s) => new Promise((r) => (s.connecting ? s.once("connect", r).once("close", r) : r(undefined))))))
        for (let i = 0; i < 5; i++) expect((yield* get(`${endpoint.url}/healthz`)).status).toBe(200)
      })
    )
  )

  it.live("a request with an endless body gets its answer and its connection closed; the body is never read", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { endpoint } = yield* open(Duration.seconds(60))
        const result = yield* raw(endpoint.url, (socket) => {
          socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
          const chunk = `10000\r\n${"x".repeat(0x10000)}\r\n`
          const pump = () => {
            while (!socket.destroyed && socket.write(chunk));
            if (!socket.destroyed) socket.once("drain", pump)
          }
          pump()
        })
        expect(result.text).toMatch(/^HTTP\/1\.1 200 OK/)
        expect(result.text.toLowerCase()).toContain("connection: close")
        expect(result.closedAfterMs).toBeLessThan(5_000)
      })
    )
  )

  it.live("a client that drips its headers is cut off after the 2 s header limit", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { endpoint } = yield* open(Duration.seconds(60))
        const result = yield* raw(endpoint.url, (socket) => {
          socket.write("GET /metrics HTTP/1.1\r\n")
          const drip = setInterval(() => (socket.destroyed ? clearInterval(drip) : socket.write("X-A: b\r\n")), 500)
          socket.on("close", () => clearInterval(drip))
        }, 12_000)
        expect(result.closedAfterMs).toBeGreaterThanOrEqual(1_900)
        expect(result.closedAfterMs).toBeLessThan(4_500)
        expect(result.text).not.toContain("200 OK")
      })
    ),
    15_000
  )

  it.scoped("an address in use is a clear failure naming observability.listen", () =>
    Effect.gen(function* () {
      const { endpoint: first, liveness } = yield* open(Duration.seconds(60))
      const port = Number(new URL(first.url).port)
      const second = yield* Effect.either(Observability.serve({ host: "127.0.0.1", port }, "9.9.9").pipe(Effect.provide(liveness)))
      expect(second._tag === "Left" && second.left.message).toBe(
        `observability.listen 127.0.0.1:${port}: the address is already in use (another process listens there); choose another port`
      )
    })
  )
})
