/**
 * Lean where users run it: with the image's --expose-gc, one full
 * collection after a cycle whose next is 10 s or more away (V8's memory
 * reducer does not run for a process that idles between cycles on Node
 * 24+), and none when cycles come sooner.
 */
import { describe, expect, it } from "vitest"
import { spawnReporter } from "../demo/harness.js"
import { startConvertor, startDashboard } from "../demo/Simulator.js"
import { cleanUpAfterEach, configText, SECRET, track, waitFor, writeConfig } from "./spawn.js"

cleanUpAfterEach()

const FULL_GC = "testing; GC in old space requested"

const run = async (interval: number) => {
  const convertor = track(await startConvertor({ services: { "api/production": { status: 0 } } }))
  const dashboard = track(await startDashboard({ secret: SECRET }))
  const file = writeConfig(configText({ convertor: convertor.url, dashboard: dashboard.url, services: ["api/production"], secret: SECRET, interval }))
  const p = spawnReporter(["--config", file], { nodeArgs: ["--expose-gc", "--trace-gc"] })
  try {
    await waitFor("the first cycle", () => p.stderr().includes("Cycle complete"), 10_000)
    await new Promise((r) => setTimeout(r, 500))
    return p.stdout()
  } finally {
    p.child.kill("SIGKILL")
  }
}

describe("a full collection after a cycle, with the image's --expose-gc", () => {
  it("when the next cycle is 10 s or more away", async () => {
    expect(await run(60)).toContain(FULL_GC)
  }, 20_000)

  it("not when cycles come sooner", async () => {
    expect(await run(5)).not.toContain(FULL_GC)
  }, 20_000)
})
