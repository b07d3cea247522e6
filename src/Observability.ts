/**
 * The endpoint that lets people alert on the alerter (`observability.listen`,
 * off unless set): `GET /metrics` (Prometheus), `/healthz` (has a cycle
 * completed lately?), `/readyz` (configuration loaded, every target set up).
 *
 * Bounded: every request gets its answer on a connection of its own that is
 * then closed, request bodies are never read, a client gets 2 s for its
 * headers and 5 s for its request, at most 64 connections are open (an idle
 * one gives way to a new one); other paths are 404, other methods 405; the
 * server stops with the daemon.
 */
import * as http from "node:http"
import type { Socket } from "node:net"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import { phaseBudget } from "./Budget.js"
import { Liveness, type LivenessState } from "./Liveness.js"
import type { MetricsPort } from "./Metrics.js"

/** The loop counts as stuck when no cycle has completed for 2 poll intervals plus both phase budgets. */
export const livenessLimit = (interval: Duration.Duration): Duration.Duration =>
  Duration.sum(Duration.times(interval, 2), Duration.times(phaseBudget(interval), 2))

export interface Answer {
  readonly status: number
  readonly body: string
  readonly type?: string
}

/** Connections open at once, all clients together. */
export const MAX_CONNECTIONS = 64

const json = (status: number, value: Record<string, unknown>): Answer => ({ status, body: `${JSON.stringify(value)}\n`, type: "application/json" })

/** What the daemon tells the endpoint, and what the endpoint says. */
export const healthz = (state: LivenessState, now: number): Answer => {
  const age = Math.max(0, now - state.lastCycleAt) / 1000
  const limit = Duration.toSeconds(livenessLimit(state.nextInterval === undefined ? state.interval : Duration.max(state.interval, state.nextInterval)))
  return age <= limit
    ? json(200, { status: "ok", last_cycle_seconds_ago: Math.round(age) })
    : json(503, {
        status: "stalled",
        reason: `no poll cycle completed for ${Math.round(age)}s (limit ${limit}s: 2 x reporter.poll_interval + the phase budgets); the poll loop is stuck`
      })
}

export const readyz = (state: LivenessState): Answer =>
  state.notReady === undefined ? json(200, { status: "ready" }) : json(503, { status: "not ready", reason: state.notReady })

export class ListenError extends Data.TaggedError("ListenError")<{ readonly message: string }> {}

const listenProblem = (where: string, code: string | undefined): string =>
  `observability.listen ${where}: ` +
  (code === "EADDRINUSE"
    ? "the address is already in use (another process listens there); choose another port"
    : code === "EACCES"
      ? "not allowed to listen there (ports below 1024 need privileges); choose a port above 1024"
      : code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN"
        ? "no such address on this host; use 127.0.0.1, 0.0.0.0 or leave the host out (:9464)"
        : `cannot listen (${code ?? "unknown error"})`)

export interface Endpoint {
  /** The metrics port to count with: the Prometheus figures. */
  readonly metrics: MetricsPort
  /** Where it listens, as a URL (the port is the real one when 0 was asked for). */
  readonly url: string
}

/** Opens the endpoint for the daemon's lifetime (the scope's). */
export const serve = (
  address: { readonly host: string; readonly port: number },
  version: string
): Effect.Effect<Endpoint, ListenError, Scope.Scope | Liveness> =>
  Effect.gen(function* () {
    // Imported here, not at start-up: without the endpoint, prom-client is never initialised.
    const { makePrometheus } = yield* Effect.promise(() => import("./Observability/Prometheus.js"))
    const prometheus = makePrometheus(version)
    const runtime = yield* Effect.runtime<never>()
    const liveness = yield* Liveness
    const route = (path: string): Promise<Answer> =>
      path === "/metrics"
        ? prometheus.render().then((body) => ({ status: 200, body, type: prometheus.contentType }))
        : path === "/healthz"
          ? Runtime.runPromise(runtime)(Effect.zipWith(liveness.get, Clock.currentTimeMillis, healthz))
          : path === "/readyz"
            ? Runtime.runPromise(runtime)(Effect.map(liveness.get, readyz))
            : Promise.resolve(json(404, { status: "not found", reason: "try /metrics, /healthz or /readyz" }))

    const server = yield* Effect.acquireRelease(
      Effect.async<http.Server, ListenError>((resume) => {
        const s = http.createServer({ maxHeaderSize: 8 * 1024, requestTimeout: 5_000, headersTimeout: 2_000, connectionsCheckingInterval: 500 }, (req, res) => {
          // One request per connection, closed after the answer; its body, if any, is never read.
          res.shouldKeepAlive = false
          open.set(req.socket, true)
          const send = (a: Answer) => {
            res.writeHead(a.status, { "content-type": a.type ?? "text/plain", "content-length": Buffer.byteLength(a.body), "cache-control": "no-store" })
            res.end(req.method === "HEAD" ? undefined : a.body)
          }
          if (req.method !== "GET" && req.method !== "HEAD") {
            res.setHeader("allow", "GET, HEAD")
            return send(json(405, { status: "method not allowed", reason: "only GET and HEAD" }))
          }
          route((req.url ?? "").split("?")[0]!).then(send, () => send(json(500, { status: "error" })))
        })
        // At most MAX_CONNECTIONS open. At the cap, a new connection displaces the oldest one that has
        // not even sent its request (Node's own maxConnections would refuse the new one instead, so a
        // client holding idle sockets could starve the kubelet's probe); only when every open one is
        // being answered is the new one closed.
        const open = new Map<Socket, boolean>()
        s.on("connection", (socket: Socket) => {
          if (open.size >= MAX_CONNECTIONS) {
            const idle = [...open].find(([, requested]) => !requested)?.[0]
            if (idle === undefined) return void socket.destroy()
            idle.destroy()
            open.delete(idle)
          }
          open.set(socket, false)
          socket.once("close", () => open.delete(socket))
        })
        s.setTimeout(5_000, (socket) => socket.destroy())
        const failed = (e: NodeJS.ErrnoException) => resume(Effect.fail(new ListenError({ message: listenProblem(`${address.host}:${address.port}`, e.code) })))
        s.once("error", failed)
        s.listen(address.port, address.host === "" ? undefined : address.host, () => {
          // Once listening, a server error must not crash the daemon: the endpoint is not its job.
          s.off("error", failed)
          s.on("error", () => {})
          resume(Effect.succeed(s))
        })
      }),
      (s) =>
        Effect.async<void>((resume) => {
          s.closeAllConnections()
          s.close(() => resume(Effect.void))
        })
    )
    const bound = server.address()
    const where = typeof bound === "object" && bound !== null ? `${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}` : String(bound)
    return { metrics: prometheus.port, url: `http://${where}` }
  })
