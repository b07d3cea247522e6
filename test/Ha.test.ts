/**
 * High availability without processes: the loopback API server's rules (as
 * the real one has them), the elector on TestClock against that server's
 * logic, the state kept in a ConfigMap or the Lease, and how the client
 * finds the API server.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { connection, type KubeClient, KubeFault, tokenFile } from "../src/Kube/Client.js"
import { makeElector, microTime } from "../src/Kube/Elector.js"
import { owned, type ObjectRef } from "../src/Kube/Objects.js"
import { FRESH, keyOf, type Track } from "../src/PolicyStore.js"
import { configMapBackend, leaseBackend, STATE_ANNOTATION, STATE_KEY } from "../src/State/Cluster.js"
import { type ApiServer, inMemoryClient, makeApiServer } from "./kube/apiserver.js"

const LEASE: ObjectRef = { group: "/apis/coordination.k8s.io/v1", resource: "leases", kind: "Lease", apiVersion: "coordination.k8s.io/v1", namespace: "ops", name: "cmr" }
const STATE: ObjectRef = { group: "/api/v1", resource: "configmaps", kind: "ConfigMap", apiVersion: "v1", namespace: "ops", name: "cmr-state" }
const LEASES = "/apis/coordination.k8s.io/v1/namespaces/ops/leases"
const CONFIGMAPS = "/api/v1/namespaces/ops/configmaps"

const lease = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}) => ({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "cmr", ...metadata }, spec })

describe("the loopback API server keeps the real one's rules", () => {
  const server = () => makeApiServer({ tokens: { "token-a": "a" } })

  it("a request without a known token is 401 before anything else", () => {
    const api = server()
    expect(api.handle("GET", `${LEASES}/cmr`, undefined, "nope").status).toBe(401)
    expect(api.handle("GET", `${LEASES}/cmr`, undefined, "token-a").status).toBe(404)
  })

  it("a Lease: a MicroTime of three digits is 400, of six accepted; a PUT without resourceVersion is 422; a stale one 409", () => {
    const api = server()
    const three = api.handle("POST", LEASES, lease({ holderIdentity: "x", renewTime: new Date(0).toISOString() }), "token-a")
    expect(three.status).toBe(400)
    expect(JSON.stringify(three.body)).toContain("2006-01-02T15:04:05.000000Z07:00")
    const created = api.handle("POST", LEASES, lease({ holderIdentity: "x", renewTime: microTime(0) }), "token-a")
    expect(created.status).toBe(201)
    const rv = (created.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion
    expect(api.handle("POST", LEASES, lease({ holderIdentity: "y" }), "token-a")).toMatchObject({ status: 409, body: { reason: "AlreadyExists" } })
    expect(api.handle("PUT", `${LEASES}/cmr`, lease({ holderIdentity: "y" }), "token-a")).toMatchObject({ status: 422, body: { reason: "Invalid" } })
    const fresh = api.handle("PUT", `${LEASES}/cmr`, lease({ holderIdentity: "y" }, { resourceVersion: rv }), "token-a")
    expect(fresh.status).toBe(200)
    const stale = api.handle("PUT", `${LEASES}/cmr`, lease({ holderIdentity: "z" }, { resourceVersion: rv }), "token-a")
    expect(stale.status).toBe(409)
    expect((stale.body as { message: string }).message).toBe(
      'Operation cannot be fulfilled on leases.coordination.k8s.io "cmr": the object has been modified; please apply your changes to the latest version and try again'
    )
    // A PUT on a missing Lease creates it (AllowCreateOnUpdate); on a missing ConfigMap it is 404.
    expect(api.handle("PUT", `${LEASES}/other`, { metadata: { name: "other" }, spec: {} }, "token-a").status).toBe(201)
    expect(api.handle("PUT", `${CONFIGMAPS}/none`, { metadata: { name: "none" }, data: {} }, "token-a").status).toBe(404)
  })

  it("a ConfigMap: a PUT without resourceVersion goes through; values past 1 MiB are 422; bad keys 422", () => {
    const api = server()
    expect(api.handle("POST", CONFIGMAPS, { metadata: { name: "s" }, data: { a: "1" } }, "token-a").status).toBe(201)
    expect(api.handle("PUT", `${CONFIGMAPS}/s`, { metadata: { name: "s" }, data: { a: "2" } }, "token-a").status).toBe(200)
    const big = api.handle("PUT", `${CONFIGMAPS}/s`, { metadata: { name: "s" }, data: { a: "x".repeat(1024 * 1024 + 1) } }, "token-a")
    expect(big).toMatchObject({ status: 422, body: { message: 'ConfigMap "s" is invalid: []: Too long: may not be more than 1048576 bytes' } })
    expect(api.handle("PUT", `${CONFIGMAPS}/s`, { metadata: { name: "s" }, data: { "a/b": "1" } }, "token-a").status).toBe(422)
  })
})

interface Replica {
  readonly identity: string
  readonly leading: () => boolean
  readonly fiber: Fiber.RuntimeFiber<never>
  readonly down: Network
  readonly changes: Array<boolean>
}

/** What the network does to one replica's requests: a GET answered late, a PUT whose answer is lost. */
interface Network {
  down: boolean
  /** The next GET reaches the server this long after it is sent. */
  slowGet?: number | undefined
  /** Then, as the server answers it: */
  onSlowGet?: () => void
  /** The next PUT is applied by the server, and its answer lost. */
  losePutAnswer?: boolean
}

const throughNetwork = (api: ApiServer, token: string, net: Network, timeout: Duration.Duration): KubeClient => {
  const direct = inMemoryClient(api, token, net)
  return {
    ...direct,
    request: (method, path, body, t) =>
      Effect.gen(function* () {
        if (method === "GET" && net.slowGet !== undefined && !net.down) {
          const delay = net.slowGet
          net.slowGet = undefined
          yield* Effect.sleep(Duration.millis(delay))
          const answer = yield* direct.request(method, path, body, t)
          net.onSlowGet?.()
          return answer
        }
        const answer = yield* direct.request(method, path, body, t)
        if (method === "PUT" && net.losePutAnswer === true) {
          net.losePutAnswer = false
          return yield* Effect.fail(new KubeFault({ message: "the answer was lost" }))
        }
        return answer
      }).pipe(Effect.timeoutFail({ duration: timeout, onTimeout: () => new KubeFault({ message: "timed out" }) }))
  }
}

const electorWorld = (timings: { lease: number; deadline: number; retry: number } = { lease: 15, deadline: 10, retry: 2 }) => {
  const api = makeApiServer({ tokens: { a: "a", b: "b" } })
  const start = (identity: string, elected: Effect.Effect<void, string> = Effect.void) =>
    Effect.gen(function* () {
      const down: Network = { down: false }
      // Ha.requestTimeout: max(1 s, renew deadline / 2).
      const timeout = Duration.max(Duration.seconds(1), Duration.seconds(timings.deadline / 2))
      const object = yield* owned(throughNetwork(api, identity, down, timeout), LEASE, timeout)
      const changes: Array<boolean> = []
      const e = yield* makeElector({
        lease: object,
        identity,
        leaseDuration: Duration.seconds(timings.lease),
        renewDeadline: Duration.seconds(timings.deadline),
        retryPeriod: Duration.seconds(timings.retry),
        elected,
        observed: () => Effect.void,
        changed: (l) => Effect.sync(() => void changes.push(l))
      })
      const fiber = yield* Effect.fork(e.run)
      yield* TestClock.adjust("1 millis")
      return { identity, leading: e.leading, fiber, down, changes } satisfies Replica
    })
  /** Advances time in steps, never seeing both lead at once; returns when `until` holds (or fails after `limit`). */
  const advance = (replicas: ReadonlyArray<Replica>, until: (now: number) => boolean, limit = Duration.seconds(60)) =>
    Effect.gen(function* () {
      const from = yield* Clock.currentTimeMillis
      for (;;) {
        const now = yield* Clock.currentTimeMillis
        expect(replicas.filter((r) => r.leading()).map((r) => r.identity).length).toBeLessThanOrEqual(1)
        if (until(now)) return now - from
        if (now - from > Duration.toMillis(limit)) throw new Error("did not happen in time")
        yield* TestClock.adjust("100 millis")
      }
    })
  const spec = () => api.get("leases", "ops", "cmr")?.["spec"] as Record<string, unknown>
  return { api, start, advance, spec }
}

describe("the elector, as client-go's", () => {
  it.effect("the first replica creates the Lease and leads; the second stands by while it renews", () =>
    Effect.gen(function* () {
      const w = electorWorld()
      const a = yield* w.start("a")
      const b = yield* w.start("b")
      const now = yield* Clock.currentTimeMillis
      expect(a.leading()).toBe(true)
      expect(b.leading()).toBe(false)
      expect(w.spec()).toMatchObject({ holderIdentity: "a", leaseDurationSeconds: 15, leaseTransitions: 0 })
      const acquired = w.spec()["acquireTime"]
      // A minute of renewals: a stays leader, its acquireTime kept, renewTime moving, b never acting.
      yield* w.advance([a, b], (t) => t - now >= 60_000)
      expect(w.spec()).toMatchObject({ holderIdentity: "a", acquireTime: acquired, leaseTransitions: 0 })
      expect(String(w.spec()["renewTime"])).toMatch(/\.\d{6}Z$/)
      expect(w.spec()["renewTime"]).not.toBe(acquired)
      expect(b.changes).toEqual([])
    }))

  it.effect("a leader cut off from the API server stops at its renew deadline; the other takes over only after the lease duration", () =>
    Effect.gen(function* () {
      const w = electorWorld()
      const a = yield* w.start("a")
      const b = yield* w.start("b")
      yield* TestClock.adjust("5 seconds")
      a.down.down = true
      const cutAt = yield* Clock.currentTimeMillis
      const lastRenew = Date.parse(String(w.spec()["renewTime"]))
      const fenced = yield* w.advance([a, b], () => !a.leading())
      // Fenced by time: no later than the renew deadline after its last renewal (seen in steps of 100 ms).
      expect(cutAt + fenced - lastRenew).toBeLessThanOrEqual(10_000 + 100)
      const over = yield* w.advance([a, b], () => b.leading())
      const tookOverAt = cutAt + fenced + over
      // Not before the lease ran out as b saw it; within a retry period and its jitter after.
      expect(tookOverAt - lastRenew).toBeGreaterThanOrEqual(15_000)
      expect(tookOverAt - lastRenew).toBeLessThanOrEqual(15_000 + 2_000 * 2.2 + 2_000)
      expect(w.spec()).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 })
      expect(a.changes).toEqual([true, false])
      // a, back, stands by: b holds it.
      a.down.down = false
      yield* w.advance([a, b], (t) => t - cutAt > 60_000)
      expect(b.leading()).toBe(true)
    }))

  it.effect("a leader stopped releases the Lease (empty holder, one second) and the other takes over within a retry period", () =>
    Effect.gen(function* () {
      const w = electorWorld()
      const a = yield* w.start("a")
      const b = yield* w.start("b")
      yield* TestClock.adjust("7 seconds")
      yield* Fiber.interrupt(a.fiber)
      expect(w.spec()).toMatchObject({ holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 0 })
      const over = yield* w.advance([a, b], () => b.leading())
      expect(over).toBeLessThanOrEqual(2_000 * 2.2 + 100)
      expect(w.spec()).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 })
    }))

  it.effect("a replica that wins the lease does not act until it has read the last leader's state", () =>
    Effect.gen(function* () {
      const w = electorWorld()
      let readable = false
      const a = yield* w.start("a", Effect.suspend(() => (readable ? Effect.void : Effect.fail("the state cannot be read"))))
      expect(w.spec()).toMatchObject({ holderIdentity: "a" })
      yield* TestClock.adjust("10 seconds")
      expect(a.leading()).toBe(false)
      readable = true
      const waited = yield* w.advance([a], () => a.leading())
      expect(waited).toBeLessThanOrEqual(2_100)
    }))
})

describe("the elector where the network is slow or lossy", () => {
  it.effect("a standby whose GET is answered late counts the lease from the answer, not the request: never two leaders (lease 15, deadline 12)", () =>
    Effect.gen(function* () {
      const w = electorWorld({ lease: 15, deadline: 12, retry: 2 })
      const a = yield* w.start("a")
      const b = yield* w.start("b")
      yield* TestClock.adjust("10 seconds")
      // b's next GET reaches the server 5.9 s after it was sent (its timeout is 6 s); a is cut off just then.
      b.down.slowGet = 5_900
      b.down.onSlowGet = () => void (a.down.down = true)
      yield* w.advance([a, b], () => b.leading())
      expect(w.spec()).toMatchObject({ holderIdentity: "b" })
    }))

  it.effect("a stop just after a renewal whose answer was lost: the release reads the Lease again and empties it", () =>
    Effect.gen(function* () {
      const w = electorWorld()
      const a = yield* w.start("a")
      yield* TestClock.adjust("5 seconds")
      a.down.losePutAnswer = true
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.interrupt(a.fiber)
      expect(w.spec()).toMatchObject({ holderIdentity: "", leaseDurationSeconds: 1 })
    }))

  it.effect("a holder that cannot read the state for a lease duration gives the Lease up, so that another replica can lead", () =>
    Effect.gen(function* () {
      const w = electorWorld()
      const a = yield* w.start("a", Effect.fail("the state cannot be read"))
      const b = yield* w.start("b")
      expect(w.spec()).toMatchObject({ holderIdentity: "a" })
      yield* w.advance([a, b], () => b.leading(), Duration.seconds(40))
      expect(a.leading()).toBe(false)
    }))
})

describe("the state in the cluster", () => {
  const tracks = (n: number): ReadonlyMap<string, Track> =>
    new Map(Array.from({ length: n }, (_, i) => [keyOf("pagerduty", { name: `service-${i}`, environment: "production" }), { ...FRESH, candidate: 2, streak: 3, effective: 2, delivered: 2, lastSentAt: 1_764_650_000_000 + i }]))

  it.effect("in a ConfigMap: created, read back, written over by the leader after a 409, refused to one that no longer leads", () =>
    Effect.gen(function* () {
      const api = makeApiServer({ tokens: { a: "a" } })
      let leading = true
      const backend = configMapBackend(yield* owned(inMemoryClient(api, "a"), STATE, Duration.seconds(1)), () => leading)
      expect((yield* backend.fetch!).size).toBe(0)
      yield* backend.save(tracks(3))
      expect(api.get("configmaps", "ops", "cmr-state")?.["data"]).toHaveProperty(STATE_KEY)
      expect((yield* backend.fetch!).size).toBe(3)
      // Someone else wrote it: the leader's next save meets 409, reads again and writes.
      api.touch("configmaps", "ops", "cmr-state", (o) => ({ ...o, data: { ...(o["data"] as object), other: "x" } }))
      yield* backend.save(tracks(4))
      expect((yield* backend.fetch!).size).toBe(4)
      api.touch("configmaps", "ops", "cmr-state", (o) => o)
      leading = false
      const refused = yield* Effect.flip(backend.save(tracks(5)))
      expect(refused).toContain("no longer leads")
      expect((yield* backend.fetch!).size).toBe(4)
    }))

  it.effect("what does not fit is said with its size, before it is sent; 1 MiB holds thousands of tracks", () =>
    Effect.gen(function* () {
      const api = makeApiServer({ tokens: { a: "a" } })
      const backend = configMapBackend(yield* owned(inMemoryClient(api, "a"), STATE, Duration.seconds(1)), () => true)
      yield* backend.save(tracks(5000))
      const tooMany = yield* Effect.flip(backend.save(tracks(9000)))
      expect(tooMany).toMatch(/^the notification state \(9000 tracks, \d+ KiB\) does not fit in ConfigMap ops\/cmr-state: a ConfigMap holds at most 1 MiB/)
      const leaseState = leaseBackend(yield* owned(inMemoryClient(api, "a"), LEASE, Duration.seconds(1)), () => true)
      expect(yield* Effect.flip(leaseState.save(tracks(2000)))).toContain("annotations hold at most 256 KiB")
    }))

  it.effect("in the Lease's annotations: renewals keep the state, and the state keeps the holder", () =>
    Effect.gen(function* () {
      const w = electorWorld()
      const a = yield* w.start("a")
      const object = yield* owned(inMemoryClient(w.api, "a"), LEASE, Duration.seconds(1))
      yield* object.get
      const backend = leaseBackend(object, () => true)
      yield* backend.save(tracks(2))
      yield* w.advance([a], (t) => t > 30_000)
      const stored = w.api.get("leases", "ops", "cmr")!
      expect(Object.keys(stored.metadata["annotations"] as object)).toEqual([STATE_ANNOTATION])
      expect(stored["spec"]).toMatchObject({ holderIdentity: "a" })
      expect((yield* backend.fetch!).size).toBe(2)
    }))
})

describe("finding the API server", () => {
  const dir = () => mkdtempSync(join(tmpdir(), "cmr-kube-"))

  it.effect("KUBECONFIG: its current context's server, token, namespace and CA file (relative to the kubeconfig)", () =>
    Effect.gen(function* () {
      const d = dir()
      writeFileSync(join(d, "ca.pem"), "-----BEGIN CERTIFICATE-----\n")
      writeFileSync(
        join(d, "config"),
        "apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: 'https://10.0.0.1:6443/', certificate-authority: ca.pem}\nusers:\n- name: u\n  user: {token: abc}\ncontexts:\n- name: x\n  context: {cluster: c, user: u, namespace: ops}\ncurrent-context: x\n"
      )
      const c = yield* connection({ KUBECONFIG: join(d, "config") })
      expect(c).toMatchObject({ server: "https://10.0.0.1:6443", namespace: "ops", tls: { insecure: false } })
      expect(c.tls.ca?.toString()).toContain("BEGIN CERTIFICATE")
      expect(Redacted.value(c.token()!)).toBe("abc")
      expect(String(c.token())).not.toContain("abc")
    }))

  it.effect("in a pod: the service account's files; none of either: a message naming both ways", () =>
    Effect.gen(function* () {
      const d = dir()
      writeFileSync(join(d, "token"), "pod-token\n")
      writeFileSync(join(d, "ca.crt"), "ca")
      writeFileSync(join(d, "namespace"), "monitoring")
      const c = yield* connection({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }, d)
      expect(c).toMatchObject({ server: "https://10.96.0.1:443", namespace: "monitoring", source: "the pod's service account" })
      expect(Redacted.value(c.token()!)).toBe("pod-token")
      const none = yield* Effect.flip(connection({}))
      expect(none.message).toContain("set KUBECONFIG")
      const noFiles = yield* Effect.flip(connection({ KUBERNETES_SERVICE_HOST: "10.96.0.1" }, join(d, "missing")))
      expect(noFiles.message).toContain("automountServiceAccountToken: true")
    }))

  it("a rotated token is read again after a minute, not before", () => {
    const d = dir()
    writeFileSync(join(d, "token"), "first")
    let now = 0
    const token = tokenFile(join(d, "token"), () => now)
    expect(Redacted.value(token()!)).toBe("first")
    writeFileSync(join(d, "token"), "second")
    now = 59_000
    expect(Redacted.value(token()!)).toBe("first")
    now = 60_000
    expect(Redacted.value(token()!)).toBe("second")
  })
})
