/**
 * Lean where users run it: with the image's --expose-gc, one full
 * collection after a cycle whose next is 10 s or more away (V8's memory
 * reducer does not run for a process that idles between cycles on Node
 * 24+), and none when cycles come sooner; and Node's built-ins loaded when
 * the program first uses them, not all at start (scripts/build.mjs).
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { spawnReporter } from "../demo/harness.js"
import { startConvertor, startDashboard } from "../demo/Simulator.js"
import { dockerfile, imageNode, nodeVersionOf, parseDockerfile } from "./image.js"
import { cleanUpAfterEach, configText, SECRET, track, waitFor, writeConfig } from "./spawn.js"

cleanUpAfterEach()

const FULL_GC = "testing; GC in old space requested"

/** One healthy service; the reporter's output half a second after its first cycle. */
const firstCycle = async (o: { interval: number; node?: string; nodeArgs?: ReadonlyArray<string>; env?: Record<string, string> }) => {
  const convertor = track(await startConvertor({ services: { "api/production": { status: 0 } } }))
  const dashboard = track(await startDashboard({ secret: SECRET }))
  const file = writeConfig(configText({ convertor: convertor.url, dashboard: dashboard.url, services: ["api/production"], secret: SECRET, interval: o.interval }))
  const p = spawnReporter(["--config", file], { nodeArgs: o.nodeArgs ?? [], env: o.env ?? {}, ...(o.node === undefined ? {} : { node: o.node }) })
  try {
    await waitFor("the first cycle", () => p.stderr().includes("Cycle complete"), 10_000)
    await new Promise((r) => setTimeout(r, 500))
    return { stdout: p.stdout(), stderr: p.stderr() }
  } finally {
    p.child.kill("SIGKILL")
  }
}

/** What --trace-gc printed (on standard output) by then. */
const run = async (interval: number, node?: string) => (await firstCycle({ interval, nodeArgs: ["--expose-gc", "--trace-gc"], ...(node === undefined ? {} : { node }) })).stdout

describe("a full collection after a cycle, with the image's --expose-gc", () => {
  it("when the next cycle is 10 s or more away", async () => {
    expect(await run(60)).toContain(FULL_GC)
  }, 20_000)

  it("not when cycles come sooner", async () => {
    expect(await run(5)).not.toContain(FULL_GC)
  }, 20_000)

  it("on the image's Node, the one after the first cycle is memory-reducing (V8's answer to memory pressure)", async () => {
    const node = join(imageNode(nodeVersionOf(parseDockerfile(dockerfile())[1]!.base)), "node")
    const trace = await run(60, node)
    const after = trace.slice(trace.indexOf(FULL_GC) - 300)
    expect(trace).toContain(FULL_GC)
    expect(after).toMatch(/Mark-Compact \(reduce\)[^\n]*testing; GC in old space requested/)
  }, 180_000)
})

describe("Node's built-ins are loaded when the program first uses them", () => {
  /** Runs the built reporter to the end of its first cycle and a stop; the built-in modules Node had loaded by its exit. */
  const loadedBuiltins = async (config: string, env: Record<string, string> = {}, until: () => boolean = () => true) => {
    const dir = mkdtempSync(join(tmpdir(), "cmr-builtins-"))
    const probe = join(dir, "probe.cjs")
    const out = join(dir, "loaded.json")
    writeFileSync(probe, `process.on("exit", () => require("fs").writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.moduleLoadList)))\n`)
    const p = spawnReporter(["--config", config], { nodeArgs: ["--require", probe], env })
    try {
      await waitFor("the first cycle and its deliveries", () => p.stderr().includes("Cycle complete") && until(), 10_000)
    } finally {
      p.child.kill("SIGTERM")
    }
    expect(await p.exited).toBe(0)
    return new Set((JSON.parse(readFileSync(out, "utf8")) as Array<string>).filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice("NativeModule ".length)))
  }
  const NOT_AT_START = ["readline", "fs/promises", "os", "tls", "https"]

  it("with http:// peers, neither TLS nor what only the CLI's prompts, other commands and HA use is loaded, and the cycle works", async () => {
    const convertor = track(await startConvertor({ services: { "api/production": { status: 2 } } }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const file = writeConfig(configText({ convertor: convertor.url, dashboard: dashboard.url, services: ["api/production"], secret: SECRET, interval: 60 }))
    const loaded = await loadedBuiltins(file)
    expect(dashboard.incidents.length).toBe(1)
    expect(loaded.has("http")).toBe(true)
    for (const name of NOT_AT_START) expect(loaded.has(name), name).toBe(false)
  }, 20_000)

  it("an https:// target loads TLS on its first request, and is delivered (a certificate trusted through NODE_EXTRA_CA_CERTS)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cmr-tls-"))
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")], { stdio: "ignore" })
    const received: Array<string> = []
    const hook = https.createServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, (req, res) => {
      let body = ""
      req.on("data", (c: Buffer) => (body += c.toString("utf8")))
      req.on("end", () => (received.push(body), res.writeHead(200).end()))
    })
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r))
    track({ close: () => new Promise<void>((r) => (hook.closeAllConnections(), hook.close(() => r()))) })
    const convertor = track(await startConvertor({ services: { "api/production": { status: 2 } } }))
    const dashboard = track(await startDashboard({ secret: SECRET }))
    const file = writeConfig(configText({
      convertor: convertor.url, dashboard: dashboard.url, services: ["api/production"], secret: SECRET, interval: 60,
      // The first unhealthy reading is sent (a notifier's default waits for a second).
      notify: { failure_threshold: 1 },
      notifiers: [{ type: "webhook", name: "hook", url: `https://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` }]
    }))
    const loaded = await loadedBuiltins(file, { NODE_EXTRA_CA_CERTS: join(dir, "cert.pem") }, () => received.length > 0)
    expect(received.length).toBe(1)
    expect(JSON.parse(received[0]!)).toMatchObject({ count: 1, notifications: [{ service: "api", status: 2 }] })
    expect(loaded.has("tls") && loaded.has("https")).toBe(true)
  }, 20_000)
})

describe("the process's own figures", () => {
  const cycleWith = async (env: Record<string, string>) => (await firstCycle({ interval: 60, env })).stderr

  it("are a debug line after each cycle (what `npm run soak` reads), still made where the level is read once at start", async () => {
    expect(await cycleWith({ LOG_LEVEL: "debug" })).toMatch(/DEBUG Process stats: rss_mb=[\d.]+ heap_used_mb=[\d.]+ event_loop_delay_p99_ms=[\d.]+ event_loop_delay_max_ms=[\d.]+/)
    expect(await cycleWith({})).not.toContain("Process stats")
  }, 20_000)
})
