/**
 * Fault injection against the built program: every way a convertor or a
 * dashboard can misbehave, all at once, one service per fault, beside a
 * healthy control service. For each fault: one clear log line naming the
 * target and the fault, the cycle within its budget, the other services
 * unaffected, recovery on the next cycle once the fault clears, and no memory
 * growth (a 50 MB body must be refused, not buffered).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FAULTS, type Fault, type RunningConvertor, type RunningDashboard, startConvertor, startDashboard } from "../demo/Simulator.js"
import { closedPort, configText, jsonLines, type LogLine, memoryMiB, SECRET, start, waitFor, writeConfig } from "./spawn.js"

// Poll every 2 s: reading and notifying get 1 s each; one attempt 0.5 s.
const INTERVAL_S = 2
const TIMEOUT_S = 0.5

type Expectation = RegExp | "delivered"

const CONVERTOR: Record<Fault, RegExp> = {
  reset: /connection reset by peer|cut short/,
  hang: /timed out/,
  drip: /timed out/,
  "http-503": /answered 503: Service Unavailable \(simulated\)/,
  "http-429": /answered 429: Too Many Requests \(simulated\)/,
  "invalid-json": /the body is not valid JSON/,
  "wrong-shape": /not one of the known health shapes/,
  truncated: /cut short|connection reset/,
  huge: /exceeds 1024 KiB/,
  "redirect-loop": /redirected to \/v1\/health.*; redirects are not followed, point convertor\.url at the final address/,
  "not-http": /the peer's answer is not HTTP/
}

// The generic dashboard's answer body means nothing: any 2xx is a delivery.
const DASHBOARD: Record<Fault, Expectation> = {
  ...CONVERTOR,
  "invalid-json": "delivered",
  "wrong-shape": "delivered",
  // Any 2xx is a delivery, whatever its size: the body is never read past 64 KiB.
  huge: "delivered",
  "redirect-loop": /redirected to \/api\/incidents; redirects are not followed, point status_dashboard\.url at the final address/
}

const faulty = (f: Fault) => `f-${f}`

interface Cycle {
  readonly line: LogLine
  readonly index: number
}

const cycles = (lines: ReadonlyArray<LogLine>): ReadonlyArray<Cycle> =>
  lines.flatMap((line, index) => (line.message.startsWith("Cycle complete") ? [{ line, index }] : []))

/** A figure of the cycle's summary: in JSON, a field of its own. */
const field = (cycle: Cycle, name: string): number => cycle.line[name] as number

/** Starts the daemon on a world where `arrange` injects the faults; returns what tests read. */
const scenario = (target: "convertor" | "dashboard") => {
  const state = {
    convertor: undefined as RunningConvertor | undefined,
    dashboard: undefined as RunningDashboard | undefined,
    process: undefined as ReturnType<typeof start> | undefined,
    lines: () => jsonLines(state.process!.stderr()),
    rssAfterCycle: new Map<number, number>(),
    peakMiB: 0,
    faultyCycles: 0
  }

  beforeAll(async () => {
    const services: Record<string, { status: number } | { fault: Fault }> = { "control/production": { status: 1 } }
    for (const f of FAULTS) services[`${faulty(f)}/production`] = target === "convertor" ? { fault: f } : { status: 2 }
    state.convertor = await startConvertor({ services })
    state.dashboard = await startDashboard({ secret: SECRET })
    if (target === "dashboard") for (const f of FAULTS) state.dashboard.setFault(faulty(f), f)
    const file = writeConfig(
      configText({
        convertor: state.convertor.url,
        dashboard: state.dashboard.url,
        services: Object.keys(services),
        secret: SECRET,
        interval: INTERVAL_S,
        timeout: TIMEOUT_S
      })
    )
    state.process = start(["--config", file, "--log-format", "json"], {}, 60_000)
    const pid = state.process.child.pid!
    // Four cycles with every fault active, sampling memory after each.
    for (let n = 1; n <= 4; n++) {
      await waitFor(`cycle ${n}`, () => cycles(state.lines()).length >= n, 10_000)
      state.rssAfterCycle.set(n, memoryMiB(pid, "VmRSS"))
    }
    state.faultyCycles = 4
    // Clear every fault, then wait for a cycle that started after that.
    for (const f of FAULTS) {
      if (target === "convertor") state.convertor.set(`${faulty(f)}/production`, { status: 2 })
      else state.dashboard.setFault(faulty(f), undefined)
    }
    await waitFor("two cycles after the faults cleared", () => cycles(state.lines()).length >= 6, 10_000)
    state.peakMiB = memoryMiB(pid, "VmHWM")
  }, 60_000)

  afterAll(async () => {
    state.process?.child.kill("SIGKILL")
    await Promise.all([state.convertor?.close(), state.dashboard?.close()])
  })

  return state
}

const errorsFor = (lines: ReadonlyArray<LogLine>, service: string, until: number) =>
  lines.slice(0, until).filter((l) => l.level === "error" && l["service"] === service)

for (const target of ["convertor", "dashboard"] as const) {
  describe(`${target} faults`, () => {
    const s = scenario(target)
    const expectations: Record<Fault, Expectation> = target === "convertor" ? CONVERTOR : DASHBOARD
    const targetName = target === "convertor" ? /^Convertor at http:\/\/127\.0\.0\.1:\d+ / : /^Dashboard at http:\/\/127\.0\.0\.1:\d+ /

    for (const fault of FAULTS) {
      const expected = expectations[fault]
      it(
        expected === "delivered"
          ? `${fault}: a 2xx answer counts as delivered`
          : `${fault}: one line a cycle, naming the ${target} and the fault`,
        () => {
          const lines = s.lines()
          const first = cycles(lines)[0]!
          const errors = errorsFor(lines, faulty(fault), first.index)
          if (expected === "delivered") {
            expect(errors).toEqual([])
            return
          }
          expect(errors).toHaveLength(1)
          expect(errors[0]!.message).toMatch(targetName)
          expect(errors[0]!.message).toMatch(expected)
          expect(errors[0]!.message).toContain(`${faulty(fault)} in production`)
          // And exactly one such line in each of the faulty cycles.
          expect(errorsFor(lines, faulty(fault), cycles(lines)[s.faultyCycles - 1]!.index)).toHaveLength(s.faultyCycles)
        }
      )
    }

    it("every faulty cycle completes within its budget, and the control service is notified each time", () => {
      const all = cycles(s.lines())
      const broken = Object.values(expectations).filter((e) => e !== "delivered").length
      for (const cycle of all.slice(0, s.faultyCycles - 1)) {
        expect(field(cycle, "duration_seconds")).toBeLessThanOrEqual(INTERVAL_S + 0.5)
        expect(field(cycle, "failed")).toBe(broken)
        expect(field(cycle, "sent")).toBe(FAULTS.length + 1 - broken)
      }
    })

    it("recovers on the first cycle after the faults clear", () => {
      // Faults are cleared right after cycle 4 ends, before cycle 5 starts.
      const last = cycles(s.lines())[s.faultyCycles]!
      expect(field(last, "failed")).toBe(0)
      expect(field(last, "sent")).toBe(FAULTS.length + 1)
    })

    it("does not grow in memory, and never buffers the 50 MB body", () => {
      expect(s.rssAfterCycle.get(4)! - s.rssAfterCycle.get(2)!).toBeLessThan(15)
      expect(s.peakMiB).toBeLessThan(150)
    })
  })
}

describe("a target that refuses connections", () => {
  it("the dashboard: one line naming it, the cycle completes, the next cycle delivers once it is back", async () => {
    const convertor = await startConvertor({ services: { "api/production": { status: 2 } } })
    const port = await closedPort()
    const file = writeConfig(
      configText({ convertor: convertor.url, dashboard: `http://127.0.0.1:${port}`, services: ["api/production"], secret: SECRET, interval: INTERVAL_S, timeout: TIMEOUT_S })
    )
    const p = start(["--config", file, "--log-format", "json"], {}, 30_000)
    try {
      await waitFor("a cycle", () => cycles(jsonLines(p.stderr())).length >= 1)
      const errors = jsonLines(p.stderr()).filter((l) => l.level === "error")
      expect(errors).toHaveLength(1)
      expect(errors[0]!.message).toBe(
        `Dashboard at http://127.0.0.1:${port} unavailable while notifying api in production: connection refused`
      )
      const dashboard = await startDashboard({ secret: SECRET, port })
      try {
        await waitFor("a delivery", () => dashboard.incidents.length >= 1, 10_000)
      } finally {
        await dashboard.close()
      }
    } finally {
      p.child.kill("SIGKILL")
      await convertor.close()
    }
  })
})
