/**
 * Operability as users meet it: the built program's metrics and health
 * endpoint (checked by promtool and scraped by a real Prometheus), the
 * `validate` command, and live reload on SIGHUP.
 */
import { execFileSync, spawn } from "node:child_process"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { jwtVerify } from "jose"
import { describe, expect, it } from "vitest"
import * as YAML from "yaml"
import { startConvertor, startDashboard, startSlack } from "../demo/Simulator.js"
import { startPeer } from "./peer.js"
import { startGoDashboard } from "./stackmon/go.js"
import { cleanUpAfterEach, closedPort, configText, run, SECRET, start, stop, track, waitFor, writeConfig } from "./spawn.js"

cleanUpAfterEach()

const LISTEN = "observability:\n  listen: 127.0.0.1:0\n"

const endpointOf = (output: string): string => {
  const m = /Metrics and health endpoint on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
  if (m === null) throw new Error(`no endpoint line in:\n${output}`)
  return m[1]!
}

/** A Stackmon dashboard whose component list is held back until `release()`; answered at once after that. */
const heldStackmon = async () => {
  const waiting: Array<() => void> = []
  let released = false
  const server = http.createServer((req, res) => {
    // The components; then the open system incidents: none (`{"data":[]}`, status-dashboard-v3 v2.go:207-214).
    const body = req.url?.startsWith("/v2/events") ? { data: [] } : [{ id: 1, name: "api", attributes: [] }]
    const answer = () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body))
    if (released) answer()
    else waiting.push(answer)
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  track({ close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asked: () => waiting.length > 0,
    release: () => {
      released = true
      waiting.splice(0).forEach((answer) => answer())
    }
  }
}

const sample = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe("the metrics and health endpoint, black-box", () => {
  it("serves /metrics that promtool accepts, with the cycle's figures, and stops with the daemon", async () => {
    const convertor = track(await startConvertor({ services: { "api/production": { status: 1 }, "db/production": { status: 0 } } }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const file = writeConfig(configText({ convertor: convertor.url, dashboard: dashboard.url, services: ["api/production", "db/production"], secret: SECRET, interval: 1, timeout: 0.4 }) + LISTEN)
    const p = start(["--config", file])
    await waitFor("two cycles", () => p.output().split("Cycle complete").length > 2)
    const url = endpointOf(p.output())
    const metrics = await (await fetch(`${url}/metrics`)).text()
    // The real tool's verdict on the exposition format, not ours.
    execFileSync("promtool", ["check", "metrics"], { input: metrics })
    expect(sample(metrics, "cloudmon_reporter_cycles_total")).toBeGreaterThanOrEqual(2)
    expect(sample(metrics, 'cloudmon_reporter_services{state="degraded"}')).toBe(1)
    expect(sample(metrics, 'cloudmon_reporter_services{state="healthy"}')).toBe(1)
    expect(sample(metrics, 'cloudmon_reporter_notifications_total{target="dashboard",outcome="delivered"}')).toBe(dashboard.incidents.length)
    expect(sample(metrics, "process_cpu_seconds_total")).toBeGreaterThan(0)
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
    expect((await fetch(`${url}/readyz`)).status).toBe(200)
    const { result } = await stop(p)
    expect(result.code).toBe(0)
    await expect(fetch(`${url}/healthz`)).rejects.toThrow()
  })

  it("is scraped by a real Prometheus server", async () => {
    const convertor = track(await startConvertor({ services: { "api/production": { status: 2 } } }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const file = writeConfig(configText({ convertor: convertor.url, dashboard: dashboard.url, services: ["api/production"], secret: SECRET, interval: 1, timeout: 0.4 }) + LISTEN)
    const p = start(["--config", file], {}, 30_000)
    await waitFor("the endpoint", () => p.output().includes("Metrics and health endpoint on"))
    const target = new URL(endpointOf(p.output())).host
    const dir = mkdtempSync(join(tmpdir(), "cmr-prometheus-"))
    writeFileSync(join(dir, "prometheus.yml"), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: reporter\n    static_configs:\n      - targets: ["${target}"]\n`)
    const web = await closedPort()
    const prometheus = spawn("prometheus", [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${web}`], { stdio: "ignore" })
    track({ close: async () => void prometheus.kill("SIGKILL") })
    const query = async (q: string) => {
      try {
        const res = await fetch(`http://127.0.0.1:${web}/api/v1/query?query=${encodeURIComponent(q)}`)
        const body = (await res.json()) as { data: { result: Array<{ value: [number, string] }> } }
        return body.data.result.map((r) => Number(r.value[1]))
      } catch {
        return []
      }
    }
    let cycles: ReadonlyArray<number> = []
    await waitFor("Prometheus to scrape the reporter", async () => {
      cycles = await query('cloudmon_reporter_cycles_total{job="reporter"}')
      return cycles.length === 1 && cycles[0]! > 0
    }, 20_000)
    expect(await query('up{job="reporter"}')).toEqual([1])
    expect(await query('cloudmon_reporter_services{job="reporter",state="outage"}')).toEqual([1])
    await stop(p)
  }, 40_000)

  it("/readyz is 503 while Stackmon's components are being read, 200 after", async () => {
    const convertor = track(await startConvertor({ services: { "api/production": { status: 0 } } }))
    const stackmon = await heldStackmon()
    const url = stackmon.url
    const file = writeConfig(
      configText({ convertor: convertor.url, dashboard: url, services: ["api/production"], interval: 1, timeout: 5 }).replace("status_dashboard:\n", "status_dashboard:\n  type: stackmon\n") + LISTEN
    )
    const p = start(["--config", file])
    await waitFor("the components request", () => stackmon.asked() && p.output().includes("Metrics and health endpoint on"))
    const endpoint = endpointOf(p.output())
    const before = await fetch(`${endpoint}/readyz`)
    expect(before.status).toBe(503)
    expect(((await before.json()) as { reason: string }).reason).toContain("setting up the targets")
    expect((await fetch(`${endpoint}/healthz`)).status).toBe(200)
    stackmon.release()
    await waitFor("ready", async () => (await fetch(`${endpoint}/readyz`)).status === 200)
    await stop(p)
  })

  it("a SIGHUP while the daemon is starting is not lost: it reloads once started", async () => {
    const convertor = track(await startConvertor({ services: { "api/production": { status: 0 } } }))
    const stackmon = await heldStackmon()
    const url = stackmon.url
    const text = configText({ convertor: convertor.url, dashboard: url, services: ["api/production"], interval: 1, timeout: 5 }).replace("status_dashboard:\n", "status_dashboard:\n  type: stackmon\n")
    const file = writeConfig(text)
    const p = start(["--config", file])
    await waitFor("the components request", stackmon.asked)
    writeFileSync(file, text.replace("poll_interval: 1", "poll_interval: 2"))
    p.child.kill("SIGHUP")
    await new Promise((r) => setTimeout(r, 200))
    stackmon.release()
    await waitFor("the reload", () => p.output().includes("Configuration reloaded"))
    expect(p.output()).toContain("SIGHUP received during start-up: reloading now")
    expect(p.output()).toContain("Configuration reloaded; the next cycle uses it: reporter.poll_interval 1s -> 2s")
    expect((await stop(p)).result.code).toBe(0)
  })

  it("an address already in use: one line naming observability.listen, exit 1", async () => {
    const busy = track(await startPeer())
    const convertor = track(await startConvertor({ services: { "api/production": { status: 0 } } }))
    const file = writeConfig(
      configText({ convertor: convertor.url, dashboard: "http://127.0.0.1:9", services: ["api/production"], secret: SECRET }) +
        `observability:\n  listen: ${new URL(busy.url).host}\n`
    )
    const result = await run(["--config", file])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`ERROR observability.listen ${new URL(busy.url).host}: the address is already in use`)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })
})

describe("validate, black-box", () => {
  it("prints the effective configuration with defaults, overrides and secrets redacted; exit 0; contacts nothing", async () => {
    const convertor = track(await startConvertor({ services: {} }))
    const file = writeConfig(
      configText({ convertor: convertor.url, dashboard: "http://user:pa55@dash.example", services: ["api/production"], secret: SECRET, notifiers: [{ type: "slack", name: "chat", webhook_url: "https://hooks.example/T0/B0/XYZSECRET" }] }),
      { "10-more.yaml": "reporter:\n  concurrency: 7\n" }
    )
    const result = await run(["validate", "--config", file], { MP_REPORTER__POLL_INTERVAL: "90" })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("  poll_interval: 90\n")
    expect(result.stdout).toContain("  concurrency: 7\n")
    expect(result.stdout).toContain("  window:\n    from: 300\n    to: 120\n")
    expect(result.stdout).toContain("  secret: <redacted>\n")
    expect(result.stdout).toContain("    webhook_url: <redacted>\n")
    expect(result.stdout).toContain("url: http://***@dash.example\n")
    // Each target's policy as it runs, defaults filled in (not `notify: {}`).
    const doc = YAML.parse(result.stdout) as { status_dashboard: { notify: unknown }; notifiers: Array<{ notify: unknown }> }
    expect(doc.status_dashboard.notify).toEqual({ mode: "every_poll", repeat_interval: 0, send_resolved: false, failure_threshold: 1, success_threshold: 1 })
    expect(doc.notifiers[0]!.notify).toEqual({ mode: "on_change", repeat_interval: 0, send_resolved: true, failure_threshold: 2, success_threshold: 2 })
    expect(result.output).not.toContain(SECRET)
    expect(result.output).not.toContain("XYZSECRET")
    expect(result.output).not.toContain("pa55")
    expect(result.stderr).toContain("the configuration is valid")
    expect(convertor.requests).toHaveLength(0)
  })

  it("an invalid configuration: the problems, exit 2", async () => {
    const file = writeConfig(configText({ convertor: "http://127.0.0.1:9", dashboard: "http://127.0.0.1:9", services: ["api/production"], secret: SECRET }).replace("poll_interval: 4", "poll_interval: often"))
    const result = await run(["validate", "--config", file])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe("")
    expect(result.stderr).toContain("reporter.poll_interval: expected a positive number of seconds from 1 to 86400, got \"often\"")
  })

  it("--connect: one read-only request per peer; a reachable target, a wrong secret and one down are each said; exit 1", async () => {
    const convertor = track(await startConvertor({ services: { "api/production": { status: 1 }, "api/staging": { status: 0 }, "db/production": { status: 2 } } }))
    // One component per service and environment (one component for two services is refused).
    const region = (value: string) => [{ name: "region", value }]
    const stackmon = track(
      await startGoDashboard({
        secret: SECRET,
        components: [
          { id: 1, name: "api", attributes: region("prod") },
          { id: 2, name: "api", attributes: region("stage") },
          { id: 3, name: "db", attributes: region("prod") }
        ]
      })
    )
    const statuspage = track(await startPeer((req) => (req.headers.authorization === "OAuth right-key" ? { status: 200, body: { id: "p1" } } : { status: 401, body: { error: "Unauthorized" } })))
    const down = await closedPort()
    const file = writeConfig(
      configText({
        convertor: convertor.url,
        dashboard: stackmon.url,
        services: ["api/production", "api/staging", "db/production"],
        secret: SECRET,
        notifiers: [
          { type: "statuspage", name: "status", url: statuspage.url, page_id: "p1", api_key: "wrong-key", components: { "api/production": "c1" } },
          { type: "webhook", name: "hook", url: `http://127.0.0.1:${down}/hook` }
        ]
      }).replace("status_dashboard:\n", "status_dashboard:\n  type: stackmon\n  environments: {production: {region: prod}, staging: {region: stage}}\n")
    )
    const result = await run(["validate", "--connect", "--config", file])
    expect(result.code).toBe(1)
    // One convertor request per configured service, nothing else.
    expect(convertor.requests.map((r) => `${r.service}/${r.environment}`).sort()).toEqual(["api/production", "api/staging", "db/production"])
    expect(result.stderr).toContain(`INFO Convertor at ${convertor.url}: answered for 3 of 3 service(s)`)
    // Stackmon: its components, its credentials through a request that can change nothing, each service's component.
    expect(result.stderr).toContain(`INFO Dashboard at ${stackmon.url} (GET /v2/components): reachable, 3 component(s)`)
    expect(result.stderr).toContain(`INFO Dashboard at ${stackmon.url} (PATCH /v2/events/0): credentials accepted (answered 400 after authentication; nothing was changed)`)
    expect(result.stderr).toContain(`INFO Dashboard at ${stackmon.url}: each of the 3 service(s) has its component`)
    expect(stackmon.seen.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /v2/components", "PATCH /v2/events/0"])
    expect(stackmon.incidents).toEqual([])
    const verified = await jwtVerify(stackmon.seen[1]!.headers.authorization!.replace(/^Bearer /, ""), new TextEncoder().encode(SECRET))
    expect(verified.payload["stackmon"]).toBe("dummy")
    expect(result.stderr).toContain(
      `ERROR Notifier "status" (statuspage) at ${statuspage.url} (GET /pages/p1): reachable, but the credentials were refused (401: Unauthorized); check notifiers[0].api_key`
    )
    expect(result.stderr).toContain(`ERROR Notifier "hook" (webhook) at http://127.0.0.1:${down} (its host): unreachable: connection refused`)
    expect(result.stderr).toContain("ERROR Connection check: 4 of 6 fine; see above")
    expect(statuspage.seen.every((r) => r.method === "GET")).toBe(true)
    expect(result.output).not.toContain("wrong-key")
  })

  it("--connect asks the convertor for every service: one it does not know is an error, exit 1", async () => {
    const convertor = track(await startConvertor({ services: { "api/production": { status: 0 } } }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const file = writeConfig(configText({ convertor: convertor.url, dashboard: dashboard.url, services: ["api/production", "ghost/production"], secret: SECRET }))
    const result = await run(["validate", "--connect", "--config", file])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/ERROR .*ghost in production.*404/)
    expect(result.stderr).toContain(`ERROR Convertor at ${convertor.url}: answered for 1 of 2 service(s)`)
    expect(convertor.requests).toHaveLength(2)
  })

  it("--connect with every peer fine: exit 0, and no notification sent", async () => {
    const convertor = track(await startConvertor({ services: { "api/production": { status: 2 } } }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const slack = track(await startSlack())
    const file = writeConfig(
      configText({ convertor: convertor.url, dashboard: dashboard.url, services: ["api/production"], secret: SECRET, notifiers: [{ type: "slack", name: "chat", webhook_url: slack.url }] })
    )
    const result = await run(["validate", "--connect", "--config", file])
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("INFO Connection check: 3 of 3 fine")
    // The generic dashboard says why it cannot be checked; Slack is checked without posting anything.
    expect(result.stderr).toContain("credentials not checked: its protocol has no request that changes nothing")
    expect(result.stderr).toContain("the webhook is live (it refused an empty message, invalid_payload; nothing was posted)")
    expect(dashboard.incidents).toHaveLength(0)
    expect(slack.messages).toHaveLength(0)
  })
})

describe("live reload on SIGHUP, black-box", () => {
  it("a valid change: a service added and one removed, one line saying so; the notification state of the others is kept", async () => {
    const convertor = track(await startConvertor({ services: { "api/production": { status: 1 }, "db/production": { status: 2 }, "web/production": { status: 1 } } }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const hooks = track(await startPeer())
    const text = (services: ReadonlyArray<string>) =>
      configText({ convertor: convertor.url, dashboard: dashboard.url, services, secret: SECRET, interval: 1, timeout: 0.4, notifiers: [{ type: "webhook", name: "hook", url: hooks.url, group: false }] })
    const file = writeConfig(text(["api/production", "db/production"]))
    const p = start(["--config", file], {}, 20_000)
    await waitFor("two cycles", () => p.output().split("Cycle complete").length > 2)
    // A webhook takes changes only: api and db were said once each.
    expect(hooks.seen).toHaveLength(2)
    writeFileSync(file, text(["api/production", "web/production"]))
    p.child.kill("SIGHUP")
    await waitFor("the reload line", () => p.output().includes("Configuration reloaded"))
    expect(p.output()).toContain("Configuration reloaded; the next cycle uses it: services added: web/production; services removed: db/production\n")
    const reloadedAt = convertor.requests.length
    await waitFor("two cycles after it", () => p.output().split("Configuration reloaded")[1]!.split("Cycle complete").length > 3)
    const after = convertor.requests.slice(reloadedAt).map((r) => r.service)
    expect(after).toContain("web")
    expect(after.filter((s) => s === "db").length).toBeLessThanOrEqual(1) // a cycle already running may finish with it
    await waitFor("the last cycle to use the new services", () => convertor.requests.slice(-2).every((r) => r.service !== "db"))
    // api was not said again (its state was kept); web was said once.
    const said = hooks.seen.map((r) => (JSON.parse(r.body) as { service: string }).service)
    expect(said.filter((s) => s === "api")).toHaveLength(1)
    expect(said.filter((s) => s === "web")).toHaveLength(1)
    expect((await stop(p)).result.code).toBe(0)
  })

  it("an invalid change: the old configuration goes on, and the line says exactly why", async () => {
    const convertor = track(await startConvertor({ services: { "api/production": { status: 1 } } }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const good = configText({ convertor: convertor.url, dashboard: dashboard.url, services: ["api/production"], secret: SECRET, interval: 1, timeout: 0.4 })
    const file = writeConfig(good)
    const p = start(["--config", file], {}, 20_000)
    await waitFor("a cycle", () => p.output().includes("Cycle complete"))
    writeFileSync(file, good.replace("concurrency", "x").replace("poll_interval: 1", "poll_interval: 0"))
    p.child.kill("SIGHUP")
    await waitFor("the refusal", () => p.output().includes("still running on the configuration in use"))
    expect(p.output()).toContain(
      `ERROR Reload refused: Configuration error in ${file}: reporter.poll_interval: expected a positive number of seconds from 1 to 86400, got 0`
    )
    const polled = convertor.requests.length
    await waitFor("polling on, every second as before", () => convertor.requests.length >= polled + 2, 4_000)
    expect(p.child.exitCode).toBeNull()
    expect((await stop(p)).result.code).toBe(0)
  })
})
