/**
 * The metrics port over prom-client, the Prometheus client most Node
 * services use: it writes the exposition format and the standard process
 * metrics (CPU, memory, file descriptors, event loop, GC). Imported (and so
 * initialised) only when `observability.listen` is set (README, "Metrics,
 * health and reload").
 */
import * as Duration from "effect/Duration"
import * as client from "prom-client"
import type { CycleSummary } from "../Summary.js"
import { SERVICE_STATES } from "../Summary.js"
import { CONVERTOR_OUTCOMES, type MetricsPort } from "../Metrics.js"

const P = "cloudmon_reporter_"

export interface Prometheus {
  readonly port: MetricsPort
  readonly contentType: string
  readonly render: () => Promise<string>
}

export const makePrometheus = (version: string): Prometheus => {
  const registers = [new client.Registry()]
  const [registry] = registers as [client.Registry]
  client.collectDefaultMetrics({ register: registry })
  // Gauges named like counters, which `promtool check metrics` rejects; nodejs_active_handles and
  // nodejs_active_requests (by type) say the same.
  for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) registry.removeSingleMetric(name)
  const duration = new client.Histogram({
    name: `${P}cycle_duration_seconds`,
    help: "How long each poll cycle took, from its start to its summary.",
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers
  })
  const cycles = new client.Counter({ name: `${P}cycles_total`, help: "Poll cycles completed.", registers })
  const last = new client.Gauge({ name: `${P}last_cycle_timestamp_seconds`, help: "When the last poll cycle completed, in Unix seconds.", registers })
  const services = new client.Gauge({ name: `${P}services`, help: "Services in each state after the last cycle.", labelNames: ["state"], registers })
  const convertor = new client.Counter({
    name: `${P}convertor_requests_total`,
    help: "Service reads from the convertor (retries included in one), by outcome.",
    labelNames: ["outcome"],
    registers
  })
  const OUTCOMES = ["delivered", "failed", "refused", "skipped"] as const
  const notifications = new client.Counter({
    name: `${P}notifications_total`,
    help: "Notifications to each target, by outcome: delivered, failed (after retries), refused (held back since), or skipped on purpose.",
    labelNames: ["target", "outcome"],
    registers
  })
  const retries = new client.Counter({ name: `${P}retries_total`, help: "Retried requests, by peer (convertor, or a target's name).", labelNames: ["peer"], registers })
  const jwt = new client.Counter({ name: `${P}jwt_sign_failures_total`, help: "Tokens that could not be signed.", registers })
  const stateWrites = new client.Counter({ name: `${P}state_write_failures_total`, help: "Saves of reporter.state_file that failed.", registers })
  const convertorUp = new client.Gauge({ name: `${P}convertor_up`, help: "1 when some read of the convertor succeeded in the last cycle, 0 when every read failed.", registers })
  const leader = new client.Gauge({ name: `${P}leader`, help: "1 on the replica that polls and sends (always, without ha); 0 on a standby.", registers })
  new client.Gauge({ name: `${P}build_info`, help: "The reporter's version; always 1.", labelNames: ["version"], registers }).set({ version }, 1)

  for (const state of SERVICE_STATES) services.set({ state }, 0)
  for (const outcome of CONVERTOR_OUTCOMES) convertor.inc({ outcome }, 0)
  jwt.inc(0)
  stateWrites.inc(0)
  retries.inc({ peer: "convertor" }, 0)
  cycles.inc(0)

  /**
   * Every target configured now gets its series at zero, so that ratios exist
   * before the first notification; a target a reload removed (or renamed)
   * loses its series, so /metrics does not grow with every rename.
   */
  let known = new Set<string>()
  const targets = (names: ReadonlyArray<string>) => {
    for (const target of known) {
      if (names.includes(target)) continue
      for (const outcome of OUTCOMES) notifications.remove({ target, outcome })
      if (target !== "convertor") retries.remove({ peer: target })
    }
    for (const target of names) {
      for (const outcome of OUTCOMES) notifications.inc({ target, outcome }, 0)
      retries.inc({ peer: target }, 0)
    }
    known = new Set(names)
  }

  const port: MetricsPort = {
    cycle: (summary: CycleSummary, finishedAtMillis: number) => {
      duration.observe(Duration.toMillis(summary.duration) / 1000)
      cycles.inc()
      last.set(finishedAtMillis / 1000)
      for (const state of SERVICE_STATES) services.set({ state }, summary.states[state])
    },
    convertorRequest: (outcome) => convertor.inc({ outcome }),
    notification: (target, outcome) => notifications.inc({ target, outcome }),
    retry: (peer) => retries.inc({ peer }),
    jwtSignFailure: () => jwt.inc(),
    stateWriteFailure: () => stateWrites.inc(),
    convertorUp: (up) => convertorUp.set(up ? 1 : 0),
    leader: (leading) => leader.set(leading ? 1 : 0),
    targets
  }
  return { port, contentType: registry.contentType, render: () => registry.metrics() }
}
