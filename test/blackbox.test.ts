/**
 * The built program as users run it: `node dist/main.js` against loopback
 * simulators (the dashboard one verifies every JWT with jose).
 */
import { spawn, spawnSync } from "node:child_process"
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import pkg from "../package.json" with { type: "json" }
import { type Behaviour, type RunningConvertor, type RunningDashboard, startConvertor, startDashboard } from "../demo/Simulator.js"
import { cleanUpAfterEach, closedPort, configText, run, SECRET, start, stop, track, waitFor, writeConfig } from "./spawn.js"

cleanUpAfterEach()

const DEFAULT_SERVICES: Record<string, Behaviour> = {
  "api/production": { status: 0 },
  "compute/production": { status: 1 },
  "storage/production": { status: 2 },
  "dns/staging": { status: 0 }
}

const world = async (options: { services?: Record<string, Behaviour>; dashboardLatencyMs?: number } = {}) => {
  const services = options.services ?? DEFAULT_SERVICES
  const convertor: RunningConvertor = track(await startConvertor({ services }))
  const dashboard: RunningDashboard = track(
    await startDashboard({ secret: SECRET, ...(options.dashboardLatencyMs ? { latencyMs: options.dashboardLatencyMs } : {}) })
  )
  return { convertor, dashboard, services: Object.keys(services) }
}

const noStackTrace = (output: string) => expect(output).not.toMatch(/^\s+at .+\(.*:\d+:\d+\)$/m)

describe("--once against the simulators", () => {
  it("notifies degraded and outage services, not healthy ones, and exits 0", async () => {
    const w = await world()
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: w.services, secret: SECRET }))
    const result = await run(["--config", file, "--once"])
    expect(result.code).toBe(0)
    expect(w.dashboard.rejected).toEqual([])
    const got = w.dashboard.incidents.map((i) => [i.body.service, i.body.status, i.body.message]).sort()
    expect(got).toEqual([
      ["compute", 1, "Service degraded"],
      ["storage", 2, "Service outage"]
    ])
    expect(w.dashboard.incidents[0]!.claims).toMatchObject({ iat: expect.any(Number), exp: expect.any(Number) })
    expect(w.convertor.requests).toHaveLength(4)
    for (const r of w.convertor.requests) {
      expect(r.from).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      expect(Date.parse(r.to) - Date.parse(r.from)).toBe(180_000)
    }
    expect(result.stderr).toContain("Cycle complete: polled=4 healthy=2 degraded=1 outage=1 no_data=0 stale=0 failed=0 late=0 sent=2/2")
    noStackTrace(result.output)
  })

  it("exits 1 with the documented message when the convertor refuses connections", async () => {
    const w = await world()
    const port = await closedPort()
    const file = writeConfig(
      configText({ convertor: `http://127.0.0.1:${port}`, dashboard: w.dashboard.url, services: ["api/production"], secret: SECRET, interval: 2 })
    )
    const result = await run(["--config", file, "--once"])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`Connection refused to convertor at http://127.0.0.1:${port}`)
    expect(w.dashboard.incidents).toEqual([])
    noStackTrace(result.output)
  })

  it("exits 1 and names status_dashboard.secret when the dashboard refuses the token", async () => {
    const w = await world()
    const file = writeConfig(
      configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: ["compute/production"], secret: "not-the-dashboards-secret-not-the-dashboards" })
    )
    const result = await run(["--config", file, "--once"])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("Dashboard authentication failed: check status_dashboard.secret")
    expect(w.dashboard.rejected).toEqual(["invalid token"]) // not retried
  })

  it("takes the convertor URL and the secret from MP_ environment variables over the file", async () => {
    const w = await world()
    const port = await closedPort()
    const file = writeConfig(
      configText({ convertor: `http://127.0.0.1:${port}`, dashboard: w.dashboard.url, services: ["storage/production"], secret: "wrong-wrong-wrong-wrong-wrong-wrong-wrong" })
    )
    const result = await run(["--config", file, "--once"], {
      MP_CONVERTOR__URL: w.convertor.url,
      MP_STATUS_DASHBOARD__SECRET: SECRET
    })
    expect(result.code).toBe(0)
    expect(w.dashboard.incidents.map((i) => i.body.service)).toEqual(["storage"])
  })

  it("merges conf.d/*.yaml beside the file", async () => {
    const w = await world()
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: ["api/production"], secret: SECRET }), {
      "10-services.yaml": "reporter:\n  services:\n    - {name: compute, environment: production}\n"
    })
    const result = await run(["--config", file, "--once"])
    expect(result.code).toBe(0)
    expect(w.convertor.requests.map((r) => r.service)).toEqual(["compute"])
    expect(w.dashboard.incidents).toHaveLength(1)
  })

  it("in --dry-run sends nothing and logs what it would send", async () => {
    const w = await world()
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: w.services, secret: SECRET }))
    const result = await run(["--config", file, "--once", "--dry-run"])
    expect(result.code).toBe(0)
    expect(w.dashboard.arrivals).toEqual([])
    expect(result.stderr).toContain(`Dry run: would send notification to dashboard (trigger): POST ${w.dashboard.url}/api/incidents {"service":"compute"`)
    expect(result.stderr).not.toContain("Sent notification")
    expect(result.stderr).toMatch(/degraded=1 outage=1 .* rehearsed=2\/2 /)
  })

  it("never logs the secret or a token, even at debug level", async () => {
    const w = await world()
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: w.services, secret: SECRET }))
    for (const args of [["--log-level", "debug"], ["--log-level", "debug", "--dry-run"]]) {
      const result = await run(["--config", file, "--once", ...args])
      expect(result.code).toBe(0)
      expect(result.stderr).toContain("DEBUG Health status: 0 (healthy)")
      expect(result.output).not.toContain(SECRET)
      expect(result.output).not.toMatch(/eyJ[\w-]+\./) // a JWT's base64url header
    }
    const viaEnv = await run(["--config", file, "--once"], { LOG_LEVEL: "debug", MP_STATUS_DASHBOARD__SECRET: `${SECRET}x` })
    expect(viaEnv.stderr).toContain("DEBUG")
    expect(viaEnv.output).not.toContain(SECRET)
  })

  it("reads the log level from RUST_LOG and writes JSON lines with --log-format json", async () => {
    const w = await world()
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: w.services, secret: SECRET }))
    const result = await run(["--config", file, "--once", "--log-format", "json"], { RUST_LOG: "warn" })
    expect(result.code).toBe(0)
    expect(result.stderr).toBe("") // nothing at warn level in a clean cycle
    const json = await run(["--config", file, "--once", "--log-format", "json"])
    const lines = json.stderr.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.find((l) => l["message"] === "Health status: 2 (outage)")).toMatchObject({ level: "info", service: "storage", environment: "production" })
  })

  it("at RUST_LOG=info prints the upstream reporter's documented lines", async () => {
    const w = await world({ services: { "api/production": { status: 1 } } })
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: w.services, secret: SECRET }))
    const result = await run(["--config", file, "--once"], { RUST_LOG: "info" })
    expect(result.code).toBe(0)
    const lines = result.stderr.split("\n")
    for (const documented of ["INFO Polling convertor for service: api", "INFO Health status: 1 (degraded)", "INFO Sent notification to dashboard: success"]) {
      expect(lines.some((l) => l.includes(documented)), documented).toBe(true)
    }
  })

  it('starts with no services but warns "No services being polled"', async () => {
    const w = await world()
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: [], secret: SECRET }).replace("  services:\n", "  services: []\n"))
    const result = await run(["--config", file, "--once"])
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/WARN No services being polled/)
  })
})

describe("the daemon", () => {
  it("polls again every interval and exits 0 on SIGTERM, letting a notification in flight finish", async () => {
    // Interval 2 s: each phase may take 1 s, so the 600 ms dashboard is slow but in time.
    const w = await world({ services: { "compute/production": { status: 1 } }, dashboardLatencyMs: 600 })
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: w.services, secret: SECRET, interval: 2 }))
    const p = start(["--config", file])
    // Two cycles, two seconds apart; then stop while the second notification is on the wire.
    await waitFor("a second POST", () => w.dashboard.arrivals.length >= 2)
    expect(w.convertor.requests.length).toBeGreaterThanOrEqual(2)
    const { result, tookMs } = await stop(p)
    expect(result.code).toBe(0)
    expect(tookMs).toBeLessThan(5_000)
    expect(w.dashboard.incidents).toHaveLength(w.dashboard.arrivals.length) // none cut off
    expect(result.stderr).toContain("Stop requested")
  })

  it("exits 0 within 5 s on SIGTERM while convertor requests are in flight", async () => {
    const hanging = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`s${i}/production`, { fault: "hang" as const }]))
    const w = await world({ services: hanging })
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: w.services, secret: SECRET, interval: 60, timeout: 10 }))
    const p = start(["--config", file])
    await waitFor("20 requests in flight", () => w.convertor.requests.length >= 20)
    const { result, tookMs } = await stop(p)
    expect(result.code).toBe(0)
    expect(tookMs).toBeLessThan(5_000)
  })

  it("on SIGTERM gives a notification still on the wire 3 s at most, then exits 0", async () => {
    const w = await world({ services: { "compute/production": { status: 1 } }, dashboardLatencyMs: 20_000 })
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: w.services, secret: SECRET, interval: 60, timeout: 25 }))
    const p = start(["--config", file])
    await waitFor("a POST on the wire", () => w.dashboard.arrivals.length >= 1)
    const { result, tookMs } = await stop(p)
    expect(result.code).toBe(0)
    expect(tookMs).toBeGreaterThanOrEqual(2_900)
    expect(tookMs).toBeLessThan(5_000)
  })

  it("exits 0 on SIGINT while idle", async () => {
    const w = await world()
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: ["api/production"], secret: SECRET, interval: 60 }))
    const p = start(["--config", file])
    await waitFor("the first cycle", () => p.output().includes("Cycle complete"))
    expect((await stop(p, "SIGINT")).result.code).toBe(0)
  })
})

describe("command line and configuration errors", () => {
  it("prints the version and the help, exit 0; the help is plain text, in a pipe and with NO_COLOR alike", async () => {
    const version = await run(["--version"])
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toBe(pkg.version)
    for (const env of [{}, { NO_COLOR: "1" }, { FORCE_COLOR: "1" }]) {
      const help = await run(["--help"], env)
      expect(help.code).toBe(0)
      expect(help.stdout).toContain("--once")
      expect(help.stdout).toContain("--dry-run")
      expect(help.stdout).toContain("(default: config.yaml)")
      expect(help.stdout).not.toContain("\u001b")
      expect(help.stderr).toBe("")
    }
  })

  it("answers --version alone from the entry point, without loading the program; with other arguments, the program parses them", () => {
    // The entry on its own, without the program's bundle beside it.
    const alone = mkdtempSync(join(tmpdir(), "entry-"))
    for (const file of ["main.js", "package.json"]) copyFileSync(join("dist", file), join(alone, file))
    for (const flag of ["--version", "-V"]) {
      const version = spawnSync(process.execPath, [join(alone, "main.js"), flag], { encoding: "utf8" })
      expect([version.status, version.stdout, version.stderr]).toEqual([0, `${pkg.version}\n`, ""])
    }
    const other = spawnSync(process.execPath, [join(alone, "main.js"), "--version", "--once"], { encoding: "utf8" })
    expect(other.status).not.toBe(0)
    expect(other.stderr).toMatch(/wiring\.js/)
  })

  it("a SIGHUP while the program is still loading does not end the process: the entry point holds it", async () => {
    // The entry beside a stand-in program that takes a second to load, then says how many hang-ups it was handed.
    const alone = mkdtempSync(join(tmpdir(), "entry-"))
    for (const file of ["main.js", "package.json"]) copyFileSync(join("dist", file), join(alone, file))
    writeFileSync(
      join(alone, "wiring.js"),
      'await new Promise((r) => setTimeout(r, 1000)); const e = globalThis[Symbol.for("cloudmon-metrics-reporter/early-hangups")]; console.log(`held ${e.received()}`); e.release()\n'
    )
    const child = spawn(process.execPath, [join(alone, "main.js"), "--once"], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.stdout.on("data", (d) => (out += d))
    // The entry's listener shows in the kernel's mask of caught signals (SIGHUP is bit 0).
    const caught = () => {
      const mask = /SigCgt:\s+([0-9a-f]+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? "0"
      return (parseInt(mask.slice(-1), 16) & 1) === 1
    }
    await waitFor("the entry's SIGHUP listener", caught, 900)
    child.kill("SIGHUP")
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on("exit", (c, s) => resolve([c, s])))
    expect([code, signal, out.trim()]).toEqual([0, null, "held 1"])
  })

  it("usage errors name the program, say what is wrong and end with see --help; exit 2", async () => {
    const cases: ReadonlyArray<[ReadonlyArray<string>, string]> = [
      [["--config"], "cloudmon-metrics-reporter: --config needs a value (--config FILE); see --help"],
      [["--once", "--once"], "cloudmon-metrics-reporter: --once was given more than once; see --help"],
      [["--config", "x.yaml", "--bogus"], 'cloudmon-metrics-reporter: unknown option "--bogus"; see --help'],
      [["--log-format", "xml"], 'cloudmon-metrics-reporter: --log-format: expected text or json; got "xml"; see --help'],
      [["--log-level", "loud"], 'cloudmon-metrics-reporter: --log-level: expected one of trace, debug, info, warn, error, off; got "loud"; see --help']
    ]
    for (const [args, message] of cases) {
      const result = await run(args)
      expect(result.code).toBe(2)
      expect(result.stderr.trim()).toBe(message)
      noStackTrace(result.output)
    }
  })

  it("prints the errors that make it exit even with --log-level off", async () => {
    const result = await run(["--config", join(mkdtempSync(join(tmpdir(), "cmr-bb-")), "absent.yaml"), "--log-level", "off"])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("the file does not exist (pass the right path with --config FILE)")
  })

  const valid = configText({ convertor: "http://127.0.0.1:1", dashboard: "http://127.0.0.1:2", services: ["api/production"], secret: SECRET })
  const cases: ReadonlyArray<[string, string | null, string]> = [
    ["a missing file", null, "the file does not exist (pass the right path with --config FILE)"],
    ["invalid YAML", valid.replace("reporter:", "reporter:\n  - : [oops"), "invalid YAML at line 10, column 3"],
    ["a missing required key", valid.replace(/ {2}url: http:\/\/127\.0\.0\.1:1\n/, ""), "convertor.url: is required but missing"],
    ["a wrong type", valid.replace("poll_interval: 4", "poll_interval: often"), 'reporter.poll_interval: expected a positive number of seconds from 1 to 86400, got "often"'],
    ["a zero interval", valid.replace("poll_interval: 4", "poll_interval: 0"), "reporter.poll_interval: expected a positive number of seconds from 1 to 86400, got 0"],
    ["a URL that is not http(s)", valid.replace("http://127.0.0.1:2", "file:///etc/passwd"), 'status_dashboard.url: expected an http:// or https:// URL, got "file:///etc/passwd"'],
    ["a service without environment", valid.replace("{ name: api, environment: production }", "{ name: api }"), "reporter.services[0].environment: is required but missing"],
    ["duplicate services", valid + "    - { name: api, environment: production }\n", "reporter.services[1]: duplicate of reporter.services[0]"],
    ["no secret at all", valid.replace(`  secret: ${SECRET}\n`, ""), "status_dashboard.secret: is required but missing"]
  ]
  for (const [name, text, message] of cases) {
    it(`exits 2 on ${name}, saying so without a stack trace or the secret`, async () => {
      const file = text === null ? join(mkdtempSync(join(tmpdir(), "cmr-bb-")), "absent.yaml") : writeConfig(text)
      const result = await run(["--config", file])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(message)
      expect(result.output).not.toContain(SECRET)
      noStackTrace(result.output)
    })
  }

  it("exits 2 when the config path is a directory", async () => {
    const result = await run(["--config", tmpdir()])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("is not a regular file")
  })
})
