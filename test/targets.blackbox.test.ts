/** Several targets, as users run them: the built program against loopback simulators. */
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import { startConvertor, startDashboard, startSlack } from "../demo/Simulator.js"
import { startPeer } from "./peer.js"

/** Every reading counts (notifiers default to two in a row). */
const EVERY_READING = { failure_threshold: 1, success_threshold: 1 }
import { cleanUpAfterEach, closedPort, configText, run, SECRET, start, stop, track, waitFor, writeConfig } from "./spawn.js"

cleanUpAfterEach()

describe("several targets, black-box", () => {
  it("one target down: the others are notified, the summary says which failed, --once exits 1", async () => {
    const convertor = track(await startConvertor({ services: { "compute/production": { status: 1 }, "storage/production": { status: 2 }, "api/production": { status: 0 } } }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const slack = track(await startSlack())
    const down = await closedPort()
    const file = writeConfig(
      configText({
        convertor: convertor.url,
        dashboard: dashboard.url,
        services: ["api/production", "compute/production", "storage/production"],
        secret: SECRET,
        // Every reading counts: what is tested here is not the notifiers' thresholds.
        notify: EVERY_READING,
        notifiers: [
          { type: "slack", name: "chat", webhook_url: slack.url },
          { type: "pagerduty", name: "oncall", url: `http://127.0.0.1:${down}/v2/enqueue`, routing_key: "R0UT1NGKEY0123456789abcdef012345", timeout: "1" }
        ]
      }),
      // --once with targets that take changes needs somewhere to remember them.
      { "state.yaml": "reporter:\n  state_file: state.json\n" }
    )
    const result = await run(["--config", file, "--once"])
    expect(result.code).toBe(1)
    expect(dashboard.incidents.map((i) => i.body.service).sort()).toEqual(["compute", "storage"])
    // One Slack message for the cycle, listing both.
    expect(slack.messages).toHaveLength(1)
    expect(slack.messages[0]).toMatch(/^\*2 changes\*: 1 outage\(s\), 1 degraded\n/)
    expect(result.stderr).toMatch(/Cycle complete: polled=3 .* failed=2 .* targets: dashboard=2\/2 chat=2\/2 oncall=0\/2/)
    expect(result.stderr).toMatch(/ERROR Notifier "oncall" \(pagerduty\) at http:\/\/127\.0\.0\.1:\d+\/v2\/enqueue unavailable while notifying compute in production: connection refused/)
    expect(result.output).not.toContain("R0UT1NGKEY")
  })

  it("a Stackmon dashboard that cannot be read at start-up: three attempts, one clear line, exit 1", async () => {
    const convertor = track(await startConvertor({ services: { "api/production": { status: 2 } } }))
    const down = await closedPort()
    const file = writeConfig(
      configText({ convertor: convertor.url, dashboard: `http://127.0.0.1:${down}`, services: ["api/production"] }).replace(
        "status_dashboard:\n",
        "status_dashboard:\n  type: stackmon\n"
      )
    )
    const p = start(["--config", file])
    const result = await p.done
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(
      `Stackmon dashboard at http://127.0.0.1:${down} (status_dashboard): could not read its components (GET /v2/components) in 3 attempts: connection refused`
    )
    expect(convertor.requests).toHaveLength(0)
  })

  it("--dry-run builds and signs every target's request and logs it, secrets redacted", async () => {
    const convertor = track(await startConvertor({ services: { "compute/production": { status: 1 } } }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const slack = track(await startSlack())
    const file = writeConfig(
      configText({
        convertor: convertor.url,
        dashboard: dashboard.url,
        services: ["compute/production"],
        secret: SECRET,
        // Every reading counts: what is tested here is not the notifiers' thresholds.
        notify: EVERY_READING,
        notifiers: [
          { type: "slack", webhook_url: slack.url },
          { type: "pagerduty", routing_key: "R0UT1NGKEY0123456789abcdef012345" },
          { type: "statuspage", api_key: "sp-secret-key", page_id: "kctbh9vrtdwd", components: "{compute/production: c1}" }
        ]
      }).replace('components: "{compute/production: c1}"', "components: {compute/production: c1}")
    )
    const result = await run(["--config", file, "--once", "--dry-run"])
    expect(result.code).toBe(0)
    expect(dashboard.arrivals).toEqual([])
    expect(slack.messages).toEqual([])
    for (const name of ["dashboard", "slack#0", "pagerduty#1", "statuspage#2"]) expect(result.stderr).toContain(`Dry run: would send notification to ${name} (trigger): `)
    expect(result.stderr).toContain("PATCH https://api.statuspage.io/v1/pages/kctbh9vrtdwd/components/c1")
    for (const secret of [SECRET, "demo-webhook-token", "R0UT1NGKEY", "sp-secret-key"]) expect(result.output).not.toContain(secret)
  })
})

describe("one slow target holds back neither the reads nor the other targets", () => {
  it("40 outages, a webhook that never answers, and PagerDuty: every service is read each cycle, PagerDuty hears of all 40 at once", async () => {
    const services = Array.from({ length: 40 }, (_, i) => `svc${String(i).padStart(2, "0")}/production`)
    const convertor = track(await startConvertor({ services: Object.fromEntries(services.map((k) => [k, { status: 2 }])) }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const pagerduty = await startPeer(() => ({ status: 202, body: { status: "success" } }))
    // Accepts the connection, never answers.
    const hung = net.createServer(() => {})
    await new Promise<void>((r) => hung.listen(0, "127.0.0.1", r))
    try {
      const file = writeConfig(
        configText({
          convertor: convertor.url,
          dashboard: dashboard.url,
          services,
          secret: SECRET,
          interval: 10,
          timeout: 4,
          concurrency: 4,
          // Every reading counts: what is tested here is not the notifiers' thresholds.
        notify: EVERY_READING,
        notifiers: [
            { type: "webhook", name: "hung", url: `http://127.0.0.1:${(hung.address() as net.AddressInfo).port}/hook`, timeout: 10, group: false },
            { type: "pagerduty", name: "pd", url: `${pagerduty.url}/v2/enqueue`, routing_key: "R0UT1NGKEY0123456789abcdef012345" }
          ]
        })
      )
      const p = start(["--config", file], {}, 20_000)
      const began = Date.now()
      await waitFor("PagerDuty told of all 40", () => pagerduty.seen.length >= 40, 5_000)
      expect(Date.now() - began).toBeLessThan(5_000)
      await waitFor("the first cycle's summary", () => p.output().includes("Cycle complete"), 15_000)
      const summary = p.output().split("\n").find((l) => l.includes("Cycle complete"))!
      expect(summary).toMatch(/polled=40 .*late=0 /)
      expect(summary).toMatch(/targets: dashboard=40\/40 hung=0\/\d+ pd=40\/40/)
      expect(p.output()).toContain("Target hung: ")
      expect(p.output()).toContain("notification(s) not delivered within reporter.poll_interval (10s): they stay due")
      await stop(p)
    } finally {
      hung.close()
      await pagerduty.close()
    }
  }, 30_000)
})
