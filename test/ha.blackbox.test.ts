/**
 * Two replicas, as users run them: two `dist/main.js` processes against the
 * loopback API server (test/kube/apiserver.ts), one convertor, and on the
 * wire a dashboard and a webhook per replica (so each request says who sent
 * it). The timings are scaled down (lease 2 s, renew deadline 1.5 s, retry
 * 0.4 s, a poll every second) so that a hand-over takes seconds; the README
 * gives the figures for client-go's defaults from the same formulas.
 */
import * as http from "node:http"
import { writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { startConvertor, startDashboard } from "../demo/Simulator.js"
import { kubeconfigFor, startApiServer } from "./kube/apiserver.js"
import { startGoDashboard } from "./stackmon/go.js"
import { cleanUpAfterEach, SECRET, start, stop, track, waitFor, writeConfig } from "./spawn.js"

cleanUpAfterEach()

const LEASE_S = 2
const RENEW_S = 1.5
const RETRY_S = 0.4
/** client-go's acquire loop waits a retry period plus up to 1.2 of it. */
const ACQUIRE_WAIT_MS = RETRY_S * 2.2 * 1000
/** A process's own start-up and one cycle, on a loaded CI machine. */
const SLACK_MS = 1_500

interface Hook {
  readonly at: number
  readonly replica: string
  readonly body: { service: string; status: number }
}

const startHooks = async () => {
  const received: Array<Hook> = []
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      received.push({ at: Date.now(), replica: (req.url ?? "/").slice(1), body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Hook["body"] })
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    received,
    close: () => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections()))
  }
}

const COMPONENTS = [{ id: 1, name: "api", attributes: [{ name: "region", value: "EU-DE" }, { name: "category", value: "c" }, { name: "type", value: "t" }] }]

const world = async (options: { state?: "configmap" | "lease"; stackmon?: boolean } = {}) => {
  const api = track(await startApiServer({ tokens: { "token-a": "a", "token-b": "b" } }))
  const convertor = track(await startConvertor({ services: { "api/production": { status: 2 } } }))
  const hooks = track(await startHooks())
  const dashboards = { a: track(await startDashboard({ secret: SECRET })), b: track(await startDashboard({ secret: SECRET })) }
  // One Stackmon dashboard for both replicas, as in a real deployment.
  const stackmon = options.stackmon === true ? track(await startGoDashboard({ components: COMPONENTS, secret: SECRET })) : undefined
  const replica = (name: "a" | "b") => {
    const config = writeConfig(
      [
        `convertor: {url: "${convertor.url}", timeout: 1}`,
        stackmon === undefined
          ? `status_dashboard: {url: "${dashboards[name].url}", secret: ${SECRET}, timeout: 1}`
          : `status_dashboard: {type: stackmon, url: "${stackmon.url}", secret: ${SECRET}, timeout: 1, environments: {production: {region: EU-DE}}}`,
        `notifiers: [{type: webhook, name: hook, url: "${hooks.url}/${name}", group: false, timeout: 1}]`,
        "notify: {failure_threshold: 1, success_threshold: 1}",
        "reporter: {poll_interval: 1, services: [{name: api, environment: production}]}",
        `observability: {listen: "127.0.0.1:0"}`,
        `ha: {lease: {name: cmr, namespace: ops, duration: ${LEASE_S}, renew_deadline: ${RENEW_S}, retry_period: ${RETRY_S}}${options.state === undefined ? "" : `, state: ${options.state}`}}`,
        ""
      ].join("\n")
    )
    const kubeconfig = join(dirname(config), "kubeconfig")
    writeFileSync(kubeconfig, kubeconfigFor(api.url, `token-${name}`))
    return start(["--config", config], { KUBECONFIG: kubeconfig, POD_NAME: `replica-${name}` }, 60_000)
  }
  return { api, convertor, hooks, dashboards, stackmon, replica }
}

type Replica = ReturnType<typeof start>

const leads = (r: Replica) => waitFor("a replica to lead", () => r.stderr().includes("Leading now"), 15_000)
const standsBy = (r: Replica) => waitFor("a replica to stand by", () => r.stderr().includes("Standing by: replica-"), 15_000)

/** What each replica's dashboard received, in time: never interleaved (one replica at a time). */
const neverTogether = (w: Awaited<ReturnType<typeof world>>, first: "a" | "b") => {
  const second = first === "a" ? "b" : "a"
  const lastOfFirst = Math.max(...w.dashboards[first].arrivals, ...w.hooks.received.filter((h) => h.replica === first).map((h) => h.at))
  const firstOfSecond = Math.min(...w.dashboards[second].arrivals, ...w.hooks.received.filter((h) => h.replica === second).map((h) => h.at))
  expect(lastOfFirst).toBeLessThan(firstOfSecond)
  return { lastOfFirst, firstOfSecond }
}

/** An outage that started under one leader and recovers under the other: one trigger, one recovery, never two of either. */
const oneTriggerOneRecovery = async (w: Awaited<ReturnType<typeof world>>) => {
  w.convertor.set("api/production", { status: 0 })
  await waitFor("the recovery", () => w.hooks.received.some((h) => h.body.status === 0), 10_000)
  // A few more cycles: nothing else is sent.
  await new Promise((r) => setTimeout(r, 2_500))
  expect(w.hooks.received.map((h) => [h.replica, h.body.status])).toEqual([
    ["a", 2],
    ["b", 0]
  ])
}

const endpointOf = (r: Replica) => /Metrics and health endpoint on (http:\/\/[^ ]+) /.exec(r.stderr())?.[1]

/** The world most hand-overs start from: a leads and has sent the outage's trigger, b stands by. */
const aLeadsBStandsBy = async () => {
  const w = await world()
  const a = w.replica("a")
  await leads(a)
  const b = w.replica("b")
  await standsBy(b)
  await waitFor("a's trigger", () => w.hooks.received.length === 1)
  return { w, a, b }
}

const handovers: Record<string, number> = {}

describe("two replicas, one active through a Lease", () => {
  it("the leader killed (SIGKILL): the other notifies within the lease duration, no duplicate trigger, the recovery sent", async () => {
    const { w, a, b } = await aLeadsBStandsBy()
    // The standby is alive and ready, and says it does not lead.
    const [ea, eb] = [endpointOf(a)!, endpointOf(b)!]
    await waitFor("both endpoints", () => endpointOf(a) !== undefined && endpointOf(b) !== undefined)
    const health = (await (await fetch(`${eb}/healthz`)).json()) as { status: string; role: string }
    expect(health).toMatchObject({ status: "ok", role: "standby" })
    expect((await fetch(`${eb}/readyz`)).status).toBe(200)
    expect(await (await fetch(`${eb}/metrics`)).text()).toMatch(/^cloudmon_reporter_leader 0$/m)
    expect(await (await fetch(`${ea}/metrics`)).text()).toMatch(/^cloudmon_reporter_leader 1$/m)

    const killedAt = Date.now()
    a.child.kill("SIGKILL")
    await waitFor("b to notify", () => w.dashboards.b.arrivals.length > 0, 15_000)
    const handover = w.dashboards.b.arrivals[0]! - killedAt
    handovers["SIGKILL"] = handover
    expect(handover).toBeLessThanOrEqual(LEASE_S * 1000 + ACQUIRE_WAIT_MS + SLACK_MS)
    expect(b.stderr()).toMatch(/Leading now: replica-b holds Lease ops\/cmr, taken over from replica-a; hand-over took \d+\.\ds/)
    neverTogether(w, "a")
    await oneTriggerOneRecovery(w)
    expect(w.api.get("leases", "ops", "cmr")?.["spec"]).toMatchObject({ holderIdentity: "replica-b", leaseTransitions: 1 })
    await stop(b)
  }, 60_000)

  it("the leader stopped (SIGTERM): it releases the Lease, the other notifies within a retry period", async () => {
    const { w, a, b } = await aLeadsBStandsBy()
    const { result, tookMs } = await stop(a)
    expect(result.code).toBe(0)
    expect(result.stderr).toContain("Released Lease ops/cmr")
    const stoppedAt = Date.now()
    await waitFor("b to notify", () => w.dashboards.b.arrivals.length > 0, 15_000)
    const handover = w.dashboards.b.arrivals[0]! - stoppedAt
    handovers["SIGTERM"] = handover + tookMs
    expect(handover).toBeLessThanOrEqual(ACQUIRE_WAIT_MS + SLACK_MS)
    neverTogether(w, "a")
    await oneTriggerOneRecovery(w)
    await stop(b)
  }, 60_000)

  it("the leader cut off from the API server: it stops notifying before its lease can expire, and the other takes over", async () => {
    const { w, a } = await aLeadsBStandsBy()
    const cutAt = Date.now()
    w.api.cutOff("a")
    await waitFor("b to notify", () => w.dashboards.b.arrivals.length > 0, 15_000)
    handovers["cut off"] = w.dashboards.b.arrivals[0]! - cutAt
    await waitFor("a to step down", () => a.stderr().includes("No longer leading"))
    // a's last renewal the API server took, and a's last notification: within the renew deadline of it (plus
    // what was already on the wire), and before the lease, as b counts it, could have run out.
    const lastRenewal = Math.max(...w.api.writes.filter((x) => x.client === "a" && x.resource === "leases").map((x) => x.at))
    const { lastOfFirst, firstOfSecond } = neverTogether(w, "a")
    expect(lastOfFirst - lastRenewal).toBeLessThanOrEqual(RENEW_S * 1000 + 300)
    expect(firstOfSecond - lastRenewal).toBeGreaterThanOrEqual(LEASE_S * 1000)
    expect(a.stderr()).toMatch(/No longer leading: Lease ops\/cmr was not renewed within ha.lease.renew_deadline \(1.5s\)/)
    // a stays alive, standing by (its endpoint up), and sends nothing more.
    const sentByA = w.dashboards.a.arrivals.length
    await oneTriggerOneRecovery(w)
    expect(w.dashboards.a.arrivals.length).toBe(sentByA)
    expect(a.child.exitCode).toBe(null)
  }, 60_000)

  it("Stackmon v2: the new leader carries on with the old one's incident (the dashboard says what is open): an outage that turns degraded is closed as an outage, then the degraded one at the recovery", async () => {
    const w = await world({ stackmon: true })
    const b = w.replica("b")
    await waitFor("b to lead first", () => b.stderr().includes("Leading now"), 15_000)
    // a stands by from before the incident exists: what its Stackmon target read at start-up shows none.
    const a = w.replica("a")
    await standsBy(a)
    await waitFor("b's outage", () => w.stackmon!.openFor(1).length === 1, 10_000)
    b.child.kill("SIGKILL")
    await leads(a)
    w.convertor.set("api/production", { status: 1 })
    await waitFor("the outage closed and a degraded incident open", () => w.stackmon!.openFor(1).map((i) => i.impact).join() === "1", 15_000)
    expect(w.stackmon!.incidents.map((i) => [i.impact, i.end_date === undefined ? "open" : "closed"])).toEqual([
      [3, "closed"],
      [1, "open"]
    ])
    w.convertor.set("api/production", { status: 0 })
    await waitFor("the recovery", () => w.stackmon!.openFor(1).length === 0, 15_000)
    expect(w.stackmon!.incidents).toHaveLength(2)
  }, 60_000)

  it.each(["configmap", "lease"] as const)("one replica restarted, its state in the cluster (%s): no duplicate, the recovery sent once", async (state) => {
    const w = await world({ state })
    const first = w.replica("a")
    await leads(first)
    await waitFor("the trigger", () => w.hooks.received.length === 1)
    await stop(first)
    const second = w.replica("a")
    await leads(second)
    const at = w.dashboards.a.arrivals.length
    await waitFor("cycles of the restarted replica", () => w.dashboards.a.arrivals.length >= at + 3, 10_000)
    expect(w.hooks.received).toHaveLength(1)
    w.convertor.set("api/production", { status: 0 })
    await waitFor("the recovery", () => w.hooks.received.length === 2, 10_000)
    await new Promise((r) => setTimeout(r, 2_000))
    expect(w.hooks.received.map((h) => h.body.status)).toEqual([2, 0])
    if (state === "configmap") expect(w.api.get("configmaps", "ops", "cmr-state")?.["data"]).toHaveProperty(["state.json"])
    else expect(w.api.get("leases", "ops", "cmr")?.metadata["annotations"]).toHaveProperty(["cloudmon-metrics-reporter/state"])
    await stop(second)
  }, 60_000)

})

// The figures the README quotes, from each run.
afterAll(() => {
  console.log(`HA hand-over, ms (lease ${LEASE_S}s, renew ${RENEW_S}s, retry ${RETRY_S}s, poll 1s): ${JSON.stringify(handovers)}`)
})
