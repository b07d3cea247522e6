/**
 * The built program against the Go dashboard's reference server
 * (test/stackmon/go.ts), as users run it: a restart between an outage and
 * its recovery, and the default concurrency against the server's unlocked
 * grouping.
 */
import { describe, expect, it } from "vitest"
import { startConvertor } from "../demo/Simulator.js"
import { cleanUpAfterEach, configText, run, SECRET, track, writeConfig } from "./spawn.js"
import { startGoDashboard } from "./stackmon/go.js"

cleanUpAfterEach()

const region = { name: "region", value: "EU-DE" }
const COMPONENTS = Array.from({ length: 12 }, (_, i) => ({ id: i + 1, name: `svc${i}`, attributes: [region, { name: "category", value: "c" }, { name: "type", value: `t${i}` }] }))

const stackmonConfig = (convertor: string, dashboard: string, services: ReadonlyArray<string>) =>
  configText({ convertor, dashboard, services, secret: SECRET, timeout: 2 }).replace(
    "status_dashboard:\n",
    "status_dashboard:\n  type: stackmon\n  environments: {production: {region: EU-DE}}\n"
  )

describe("Stackmon, black-box", () => {
  it("a restart between the outage and the recovery, without a state file: the recovery still closes the incident", async () => {
    const convertor = track(await startConvertor({ services: { "svc0/production": { status: 2 } } }))
    const go = track(await startGoDashboard({ components: COMPONENTS, secret: SECRET }))
    const file = writeConfig(stackmonConfig(convertor.url, go.url, ["svc0/production"]))
    const outage = await run(["--config", file, "--once"])
    expect(outage.code).toBe(0)
    expect(go.openFor(1).map((i) => [i.impact, i.system])).toEqual([[3, true]])
    convertor.set("svc0/production", { status: 0 })
    const recovery = await run(["--config", file, "--once"])
    expect(recovery.code).toBe(0)
    expect(recovery.stderr).toContain("1 managed component(s) in open system incidents, taken as ours")
    expect(go.openFor(1)).toEqual([])
    expect(go.incidents[0]?.updates.at(-1)?.status).toBe("resolved")
  })

  it("the default concurrency (32) against the server's unlocked read-then-write: one incident per impact", async () => {
    const services = COMPONENTS.map((c) => `${c.name}/production`)
    const convertor = track(await startConvertor({ services: Object.fromEntries(services.map((s) => [s, { status: 1 }])) }))
    const go = track(await startGoDashboard({ components: COMPONENTS, secret: SECRET, raceDelayMs: 20 }))
    const result = await run(["--config", writeConfig(stackmonConfig(convertor.url, go.url, services)), "--once"])
    expect(result.code).toBe(0)
    const open = go.incidents.filter((i) => i.end_date === undefined)
    expect(open.map((i) => [i.impact, i.components.length])).toEqual([[1, 12]])
  })
})
