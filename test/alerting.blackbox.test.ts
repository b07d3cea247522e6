/**
 * Alerting an on-call team can trust, as users run it: `--once` never
 * re-pages or loses a recovery for want of memory, and a state file that
 * cannot be written is never a silent warning.
 */
import { mkdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { describe, expect, it } from "vitest"
import { type Behaviour, startConvertor, startDashboard, startSlack } from "../demo/Simulator.js"
import { cleanUpAfterEach, configText, run, SECRET, start, stop, track, waitFor, writeConfig } from "./spawn.js"
import { startPeer } from "./peer.js"

cleanUpAfterEach()

const slackWorld = async () => {
  const convertor = track(await startConvertor({ services: { "api/production": { status: 2 } } }))
  const dashboard = track(await startDashboard({ secret: SECRET }))
  const slack = track(await startSlack())
  const text = configText({ convertor: convertor.url, dashboard: dashboard.url, services: ["api/production"], secret: SECRET, timeout: 1, notifiers: [{ type: "slack", name: "chat", webhook_url: slack.url }] })
  return { convertor, dashboard, slack, text }
}

describe("--once remembers, or refuses to run", () => {
  it("a target that takes changes and recoveries, without reporter.state_file: exit 2 naming the key and the fix; nothing sent", async () => {
    const w = await slackWorld()
    const result = await run(["--config", writeConfig(w.text), "--once"])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(
      "notifiers[0] (slack) needs to remember between runs for notify.mode on_change (a change from a repeat), notify.send_resolved (a recovery), a notify threshold above 1 (a streak), and a --once run without reporter.state_file forgets it"
    )
    expect(result.stderr).toContain("set reporter.state_file")
    expect(w.slack.messages).toEqual([])
    expect(w.convertor.requests).toEqual([])
  })

  it("with a state file, the defaults: the second run in an outage sends one message (two readings in a row), later ones none; two healthy runs send the recovery", async () => {
    const w = await slackWorld()
    const file = writeConfig(w.text, { "state.yaml": "reporter:\n  state_file: state.json\n" })
    const logs: Array<string> = []
    const once = async () => {
      const result = await run(["--config", file, "--once"])
      logs.push(result.stderr)
      expect(result.code).toBe(0)
    }
    await once()
    expect(w.slack.messages).toHaveLength(0)
    await once()
    await once()
    expect(w.slack.messages).toHaveLength(1)
    w.convertor.set("api/production", { status: 0 })
    await once()
    expect(w.slack.messages).toHaveLength(1)
    await once()
    expect(w.slack.messages).toHaveLength(2)
    expect(w.slack.messages[1]).toContain("*recovered*")
    // Each line names what it sent, and to whom.
    expect(logs[1]).toContain("INFO Sent notification to chat: success (trigger)")
    expect(logs[2]).toContain("INFO Sent notification to dashboard: success (repeat)")
    expect(logs[4]).toContain("INFO Sent notification to chat: success (recovery)")
  })

  it("a dashboard that takes every poll needs no memory: --once runs without a state file", async () => {
    const w = await slackWorld()
    const dashboardOnly = w.text.replace(/notifiers:[\s\S]*$/, "")
    expect((await run(["--config", writeConfig(dashboardOnly), "--once"])).code).toBe(0)
    expect(w.dashboard.incidents).toHaveLength(1)
  })
})

describe("a state file that cannot be written is never a silent warning", () => {
  it("its directory missing: exit 2 at start-up, naming reporter.state_file", async () => {
    const w = await slackWorld()
    const file = writeConfig(w.text, { "state.yaml": "reporter:\n  state_file: no-such-directory/state.json\n" })
    for (const args of [["--once"], []]) {
      const result = await run(["--config", file, ...args])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(`reporter.state_file: its directory ${join(dirname(file), "no-such-directory")} cannot be written (it does not exist)`)
    }
    expect(w.slack.messages).toEqual([])
  })

  it("a save that fails during the run: one error, and --once exits 1 (the next run would send it again)", async () => {
    const w = await slackWorld()
    const file = writeConfig(w.text, { "state.yaml": "reporter:\n  state_file: state.json\n" })
    // Where the file should be, a directory: it can be neither read nor replaced.
    mkdirSync(join(dirname(file), "state.json"))
    const result = await run(["--config", file, "--once"])
    expect(result.code).toBe(1)
    expect(result.stderr.match(/ERROR .*what was sent is not saved/g)).toHaveLength(1)
    expect(result.stderr).toContain("The state file could not be written (see above): exiting with 1")
    // The dashboard was told (every reading counts there); the streak toward Slack is what went unsaved.
    expect(w.dashboard.incidents).toHaveLength(1)
  })
})

/** A convertor answering `services`, a dashboard, a Slack webhook, and a PagerDuty that takes every event (202). */
const pagerWorld = async (services: Record<string, Behaviour>) => ({
  convertor: track(await startConvertor({ services })),
  dashboard: track(await startDashboard({ secret: SECRET })),
  slack: track(await startSlack()),
  pager: track(await startPeer(() => ({ status: 202, body: { status: "success" } })))
})

describe("routing: each target gets what it is for", () => {
  it("production pages, staging goes to Slack only; a match that selects nothing is a warning", async () => {
    const { convertor, dashboard, slack, pager } = await pagerWorld({ "api/production": { status: 2 }, "api/staging": { status: 2 }, "web-eu/production": { status: 1 }, "batch/production": { status: 2 } })
    const text = configText({
      convertor: convertor.url,
      dashboard: dashboard.url,
      services: ["api/production", "api/staging", "web-eu/production", "batch/production"],
      secret: SECRET,
      timeout: 1,
      notify: { failure_threshold: 1 },
      notifiers: [
        // Pages for production, but not for batch jobs.
        { type: "pagerduty", name: "oncall", url: `${pager.url}/v2/enqueue`, routing_key: "R0UT1NGKEY0123456789abcdef012345", match: { environments: ["production"] }, exclude: { services: ["batch"] } },
        { type: "slack", name: "chat", webhook_url: slack.url, match: { environments: ["staging"] } },
        { type: "slack", name: "nobody", webhook_url: `${slack.url}/other`, match: { environments: ["prod*"], services: ["nothing-*"] } }
      ]
    })
    const result = await run(["--config", writeConfig(text, { "state.yaml": "reporter:\n  state_file: state.json\n" }), "--once"])
    expect(result.code).toBe(0)
    const paged = pager.seen.map((r) => (JSON.parse(r.body) as { dedup_key: string }).dedup_key).sort()
    expect(paged).toEqual(["api/production", "web-eu/production"])
    expect(slack.messages).toHaveLength(1)
    expect(slack.messages[0]).toContain("*api* in *staging*")
    // The dashboard has no match: it hears of all four.
    expect(dashboard.incidents).toHaveLength(4)
    expect(result.stderr).toContain("WARN notifiers[2]: its match/exclude selects none of reporter.services: it will be told nothing")
  })
})

describe("never go blind silently", () => {
  it("every read failing for 3 cycles: the notifiers are told once (cause, since when, how many), the dashboard is not; once reads work, told once more", async () => {
    const services = ["api/production", "db/production"]
    const convertor = track(await startConvertor({ services: Object.fromEntries(services.map((s) => [s, { fault: "wrong-shape" as const }])) }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const slack = track(await startSlack())
    const quiet = track(await startSlack())
    const text = configText({
      convertor: convertor.url,
      dashboard: dashboard.url,
      services,
      secret: SECRET,
      interval: 1,
      timeout: 0.4,
      notifiers: [
        { type: "slack", name: "chat", webhook_url: slack.url },
        { type: "slack", name: "quiet", webhook_url: quiet.url, blind_alerts: false }
      ]
    })
    const p = start(["--config", writeConfig(text)])
    await waitFor("the blind alert", () => slack.messages.length === 1, 10_000)
    expect(slack.messages[0]).toMatch(/^\*cloudmon-metrics-reporter\* in \*monitoring\* is \*outage\*/)
    expect(slack.messages[0]).toMatch(/every read of the convertor failed for 3 cycles in a row since \S+ \(2 service\(s\)\)/)
    expect(p.output()).toMatch(/ERROR Monitoring is blind: /)
    expect(p.output()).toContain("No reading of api in production for 3 cycles in a row: its health is unknown")
    expect(p.output()).toMatch(/Cycle complete: .* failed=2 unknown=2 /)
    // Two more blind cycles: nothing more said.
    await waitFor("two more cycles", () => p.output().split("Cycle complete").length > 6, 10_000)
    expect(slack.messages).toHaveLength(1)
    for (const s of services) convertor.set(s, { status: 0 })
    await waitFor("the all-clear", () => slack.messages.length === 2, 10_000)
    expect(slack.messages[1]).toMatch(/^\*cloudmon-metrics-reporter\* in \*monitoring\* has \*recovered\*/)
    expect(quiet.messages).toEqual([])
    expect(dashboard.incidents).toEqual([])
    expect((await stop(p)).result.code).toBe(0)
  })
})

describe("grouping: one message, not thirty", () => {
  it("30 services in outage: Slack gets one message for the cycle listing them; PagerDuty one event each", async () => {
    const services = Array.from({ length: 30 }, (_, i) => `svc${i}/production`)
    const { convertor, dashboard, slack, pager } = await pagerWorld(Object.fromEntries(services.map((s) => [s, { status: 2 }])))
    const text = configText({
      convertor: convertor.url,
      dashboard: dashboard.url,
      services,
      secret: SECRET,
      timeout: 1,
      notify: { failure_threshold: 1 },
      notifiers: [
        { type: "slack", name: "chat", webhook_url: slack.url },
        { type: "pagerduty", name: "oncall", url: `${pager.url}/v2/enqueue`, routing_key: "R0UT1NGKEY0123456789abcdef012345" }
      ]
    })
    const result = await run(["--config", writeConfig(text, { "state.yaml": "reporter:\n  state_file: state.json\n" }), "--once"])
    expect(result.code).toBe(0)
    expect(slack.messages.length).toBeLessThanOrEqual(2)
    expect(slack.messages[0]).toMatch(/^\*30 changes\*: 30 outage\(s\)/)
    expect(slack.messages.join("\n").match(/is \*outage\*/g)).toHaveLength(30)
    expect(pager.seen).toHaveLength(30)
    expect(result.stderr).toMatch(/targets: dashboard=30\/30 chat=30\/30 oncall=30\/30/)
    expect(result.stderr).not.toContain("raise reporter.poll_interval")
  })
})
