/**
 * The built program against a hostile world: its log reader going away,
 * signals at awkward moments, a convertor whose answers cannot be believed.
 */
import { execFileSync } from "node:child_process"
import { truncateSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { describe, expect, it } from "vitest"
import { type Behaviour, startConvertor, startDashboard } from "../demo/Simulator.js"

/** Every reading counts (notifiers default to two in a row). */
const EVERY_READING = { failure_threshold: 1, success_threshold: 1 }
import { cleanUpAfterEach, closedPort, configText, run, SECRET, start, stop, track, waitFor, writeConfig } from "./spawn.js"

cleanUpAfterEach()

const world = async (convertorLatencyMs = 0) => {
  const convertor = track(await startConvertor({ services: { "api/production": { status: 2 } }, latencyMs: convertorLatencyMs }))
  const dashboard = track(await startDashboard({ secret: SECRET }))
  return { convertor, dashboard }
}

describe("the process does not die or lie", () => {
  it("keeps polling and notifying after its stderr reader goes away (EPIPE)", async () => {
    const w = await world()
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: ["api/production"], secret: SECRET, interval: 1, timeout: 0.4 }))
    const p = start(["--config", file])
    await waitFor("the first line", () => p.output().length > 0)
    p.child.stderr!.destroy() // as `| head -1` or a restarted log shipper does
    const polled = w.convertor.requests.length
    const notified = w.dashboard.incidents.length
    await waitFor("two more polls and notifications", () => w.convertor.requests.length >= polled + 2 && w.dashboard.incidents.length >= notified + 2, 8_000)
    expect(p.child.exitCode).toBeNull()
    const { result } = await stop(p)
    expect(result.code).toBe(0)
  })

  it("reloads on SIGHUP and keeps running", async () => {
    const w = await world()
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: ["api/production"], secret: SECRET, interval: 1, timeout: 0.4 }))
    const p = start(["--config", file])
    await waitFor("the first cycle", () => p.output().includes("Cycle complete"))
    p.child.kill("SIGHUP")
    await waitFor("the SIGHUP line", () => p.output().includes("Configuration reloaded; the next cycle uses it: nothing changed"))
    const polled = w.convertor.requests.length
    await waitFor("another poll", () => w.convertor.requests.length > polled)
    expect(p.child.exitCode).toBeNull()
    expect((await stop(p)).result.code).toBe(0)
  })

  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    it(`exits ${code} on ${signal} during a --once cycle, with one line saying it was cut short`, async () => {
      const w = await world(3_000)
      const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: ["api/production"], secret: SECRET, interval: 10, timeout: 4 }))
      const p = start(["--config", file, "--once"])
      await waitFor("the read in flight", () => w.convertor.requests.length === 1)
      const { result } = await stop(p, signal)
      expect(result.code).toBe(code)
      expect(result.stderr).toContain(`Stop requested during --once: the cycle was cut short (notifications in flight were given time to finish); exiting with ${code}`)
      expect(result.stderr).not.toContain("Cycle complete")
    })
  }

  it("a --once cycle that completes still exits 0, and a daemon stopped by SIGTERM too", async () => {
    const w = await world()
    const file = writeConfig(configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: ["api/production"], secret: SECRET }))
    expect((await run(["--config", file, "--once"])).code).toBe(0)
  })

})

describe("configuration errors, a mistyped key first", () => {
  it("one line per error, the unknown key (with its did-you-mean) before the key it left missing, exit 2", async () => {
    const file = writeConfig(
      configText({ convertor: "http://127.0.0.1:1", dashboard: "http://127.0.0.1:2", services: ["api/production"], secret: SECRET })
        .replace("  url: http://127.0.0.1:1\n", "  ulr: http://127.0.0.1:1\n")
        .replace("poll_interval: 4", "poll_interval: 0.001")
    )
    const result = await run(["--config", file])
    expect(result.code).toBe(2)
    const lines = result.stderr.trim().split("\n")
    expect(lines[0]).toMatch(/ERROR Configuration error in .*: unknown key convertor\.ulr \(did you mean "url"\?\): correct it or remove it$/)
    expect(lines.every((l) => l.includes(`ERROR Configuration error in ${file}: `))).toBe(true)
    expect(result.stderr).toContain("convertor.url: is required but missing")
    expect(result.stderr).toContain("reporter.poll_interval: expected a positive number of seconds from 1 to 86400, got 0.001")
  })
})

describe("a state file that is not one cannot stop the reporter", () => {
  const withState = (w: Awaited<ReturnType<typeof world>>, make: (path: string) => void) => {
    const file = writeConfig(
      configText({ convertor: w.convertor.url, dashboard: w.dashboard.url, services: ["api/production"], secret: SECRET, interval: 1, timeout: 0.4 }),
      { "state.yaml": "reporter:\n  state_file: state.json\n" }
    )
    make(join(dirname(file), "state.json"))
    return file
  }

  it("a FIFO: one warning, the daemon runs, and SIGTERM still stops it", async () => {
    const w = await world()
    const file = withState(w, (path) => execFileSync("mkfifo", [path]))
    const p = start(["--config", file])
    await waitFor("a cycle", () => p.output().includes("Cycle complete"))
    expect(p.output()).toContain("state.json is not a regular file (a FIFO or a device?): starting with no notification state")
    expect((await stop(p)).result.code).toBe(0)
  })

  it("a 1 GB file is refused by its size, not read into memory", async () => {
    const w = await world()
    const file = withState(w, (path) => truncateSync((writeFileSync(path, ""), path), 1024 * 1024 * 1024))
    const p = start(["--config", file])
    await waitFor("a cycle", () => p.output().includes("Cycle complete"))
    expect(p.output()).toContain("state.json is larger than 8 MiB, more than any state file of this program: starting with no notification state")
    expect((await stop(p)).result.code).toBe(0)
  })

  it("tracks under keys that are not tracks: a warning and an empty start, never an internal error", async () => {
    for (const key of ["x", "null", "5", "{}"]) {
      const w = await world()
      const track = { candidate: 2, streak: 1, effective: 2, delivered: 2, lastSentAt: 0, maintained: false }
      const file = withState(w, (path) => writeFileSync(path, JSON.stringify({ version: 1, tracks: { [key]: track } })))
      const result = await run(["--config", file, "--once"])
      expect(result.stderr).not.toContain("Internal error")
      expect(result.stderr).toContain("state.json cannot be read (not a state file of this program): starting with no notification state")
      expect(result.code).toBe(0)
    }
  })
})

describe("a stop does not lose what was sent", () => {
  /** A webhook told of outages, with a state file; `hookLatencyMs` keeps its answers on the wire. */
  const withHook = async (services: Record<string, Behaviour>, hookLatencyMs = 0) => {
    const convertor = track(await startConvertor({ services }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const hook = track(await startDashboard({ secret: SECRET, latencyMs: hookLatencyMs }))
    const file = writeConfig(
      configText({
        convertor: convertor.url,
        dashboard: dashboard.url,
        services: Object.keys(services),
        secret: SECRET,
        interval: 10,
        timeout: 4,
        // Every reading counts: what is tested here is not the notifiers' thresholds.
        notify: EVERY_READING,
        notifiers: [{ type: "webhook", name: "hook", url: `${hook.url}/api/incidents`, secret: SECRET, group: false }]
      }),
      { "state.yaml": "reporter:\n  state_file: state.json\n" }
    )
    /** After the first run was stopped: a restart runs a whole cycle, and tells the hook nothing again. */
    const restartTellsNothing = async (told: number) => {
      const again = start(["--config", file])
      await waitFor("a whole cycle after the restart", () => again.output().includes("Cycle complete"), 12_000)
      expect((await stop(again)).result.code).toBe(0)
      expect(hook.arrivals).toHaveLength(told)
    }
    return { hook, file, restartTellsNothing }
  }

  it("SIGTERM while another service's read is in flight: what the hook got is recorded, and a restart does not send it again", async () => {
    const w = await withHook({ "api/production": { status: 2 }, "slow/production": { fault: "hang" } })
    const first = start(["--config", w.file])
    await waitFor("the hook told of api's outage", () => w.hook.incidents.length === 1 && first.output().includes("Sent notification to hook"))
    expect(first.output()).not.toContain("Cycle complete") // the slow read holds the cycle open
    expect((await stop(first)).result.code).toBe(0)
    await w.restartTellsNothing(1)
  })

  it("SIGTERM while the hook is answering: the send is let finish, recorded, and not repeated after a restart", async () => {
    const w = await withHook({ "api/production": { status: 2 } }, 1_500)
    const first = start(["--config", w.file])
    await waitFor("the hook's answer on its way", () => w.hook.arrivals.length === 1)
    expect((await stop(first)).result.code).toBe(0)
    expect(first.output()).toContain("Sent notification to hook: success")
    await w.restartTellsNothing(1)
  })
})

describe("a webhook header that would break every send is refused at load", () => {
  const hook = (lines: ReadonlyArray<string>) => {
    const text = configText({ convertor: "http://127.0.0.1:1", dashboard: "http://127.0.0.1:2", services: ["api/production"], secret: SECRET })
    return writeConfig(text, { "hook.yaml": ["notifiers:", "  - type: webhook", "    url: http://127.0.0.1:3/hook", ...lines.map((l) => `    ${l}`), ""].join("\n") })
  }
  const cases = [
    { why: "a value with CR/LF", lines: ['headers: {X-Token: "s3cr3t\\r\\nX-Injected: 1"}'], said: "notifiers[0].headers.X-Token: expected a non-empty header value on one line (no CR, LF or NUL)" },
    { why: "a name that is not a token", lines: ['headers: {"X Bad": s3cr3t}'], said: "notifiers[0].headers.X Bad: expected an HTTP header name" },
    { why: "a file holding a line break", lines: ["headers_file: {X-Other: other.txt}"], said: "notifiers[0].headers_file.X-Other: expected a header value on one line (no CR, LF or NUL; not shown: it is a secret)" }
  ]
  for (const c of cases) {
    it(`${c.why}: exit 2 in validate and in a run, named by its key, the value never shown`, async () => {
      const file = hook(c.lines)
      writeFileSync(join(dirname(file), "other.txt"), "s3cr3t\nline-two\n")
      for (const args of [["validate", "--config", file], ["--config", file, "--once"]]) {
        const result = await run(args)
        expect(result.code).toBe(2)
        expect(result.stderr).toContain(c.said)
        expect(result.stderr).not.toContain("s3cr3t")
      }
    })
  }
})

describe("a token in a webhook URL's path is a secret", () => {
  it("validate, --dry-run and the error when the hook is down show its origin only", async () => {
    const w = await world()
    const port = await closedPort()
    const file = writeConfig(
      configText({
        convertor: w.convertor.url,
        dashboard: w.dashboard.url,
        services: ["api/production"],
        secret: SECRET,
        timeout: 0.4,
        // Every reading counts: what is tested here is not the notifiers' thresholds.
        notify: EVERY_READING,
        notifiers: [{ type: "webhook", name: "discord", url: `http://127.0.0.1:${port}/api/webhooks/123/T0KENsecretPART`, group: false }]
      }),
      // A --once run of a target that takes changes needs somewhere to remember them.
      { "state.yaml": "reporter:\n  state_file: state.json\n" }
    )
    const outputs = await Promise.all([run(["validate", "--config", file]), run(["--config", file, "--once", "--dry-run"]), run(["--config", file, "--once"])])
    const [validated, rehearsed, failed] = outputs
    expect(validated!.stdout).toContain(`url: http://127.0.0.1:${port}/<path hidden>`)
    expect(rehearsed!.stderr).toContain(`Dry run: would send notification to discord (trigger): POST http://127.0.0.1:${port}/<path hidden>`)
    expect(failed!.stderr).toContain(`at http://127.0.0.1:${port}/<path hidden>`)
    for (const o of outputs) expect(`${o.stdout}${o.stderr}`).not.toContain("T0KEN")
  })
})
