/**
 * The endpoint that lets people alert on the alerter (`observability.listen`,
 * off unless set): `GET /metrics` (Prometheus), `/healthz` (has a cycle
 * completed lately?), `/readyz` (configuration loaded, every target set up).
 * What it answers is decided here, from Liveness.ts and the metrics; how it
 * is served, and its bounds, are Observability/Server.ts. Both that server
 * and prom-client are loaded only when the endpoint is on.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { phaseBudget } from "./Budget.js"
import { Liveness, type LivenessState } from "./Liveness.js"
import type { MetricsPort } from "./Metrics.js"
import { type Answer, json } from "./Observability/Answer.js"

/** The loop counts as stuck when no cycle has completed for 2 poll intervals plus both phase budgets. */
export const livenessLimit = (interval: Duration.Duration): Duration.Duration =>
  Duration.sum(Duration.times(interval, 2), Duration.times(phaseBudget(interval), 2))

export const healthz = (state: LivenessState, now: number): Answer => {
  const age = Math.max(0, now - state.lastCycleAt) / 1000
  const limit = Duration.toSeconds(livenessLimit(state.nextInterval === undefined ? state.interval : Duration.max(state.interval, state.nextInterval)))
  const role = state.role === undefined ? {} : { role: state.role }
  if (state.role === "standby") {
    return age <= limit
      ? json(200, { status: "ok", ...role, lease_observed_seconds_ago: Math.round(age) })
      : json(503, { status: "stalled", ...role, reason: `the Lease not read for ${Math.round(age)}s (limit ${limit}s): this standby cannot reach the API server, or its loop is stuck` })
  }
  return age <= limit
    ? json(200, { status: "ok", ...role, last_cycle_seconds_ago: Math.round(age) })
    : json(503, {
        status: "stalled",
        ...role,
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
    // Imported here, not at start-up: without the endpoint, neither prom-client nor the server is initialised.
    const [{ makePrometheus }, Server] = yield* Effect.promise(() => Promise.all([import("./Observability/Prometheus.js"), import("./Observability/Server.js")]))
    const prometheus = makePrometheus(version)
    const liveness = yield* Liveness
    const bound = yield* Server.serve(address, {
      "/metrics": Effect.map(Effect.promise(prometheus.render), (body): Answer => ({ status: 200, body, type: prometheus.contentType })),
      "/healthz": Effect.zipWith(liveness.get, Clock.currentTimeMillis, healthz),
      "/readyz": Effect.map(liveness.get, readyz)
    }).pipe(Effect.mapError((e) => new ListenError({ message: listenProblem(`${address.host}:${address.port}`, e.code) })))
    const where = bound._tag === "TcpAddress" ? `${bound.hostname.includes(":") ? `[${bound.hostname}]` : bound.hostname}:${bound.port}` : bound.path
    return { metrics: prometheus.port, url: `http://${where}` }
  })
