/**
 * Live reload without a process: SIGHUPs come from a queue, configurations
 * from files, each generation's services are a stand-in that records when its
 * scope closes. The policy's store and liveness are the real ones.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AppConfig, load, type ReporterConfig } from "../src/Config.js"
import * as Generations from "../src/Generations.js"
import { type Hangup, Hangups } from "../src/Hangups.js"
import * as Liveness from "../src/Liveness.js"
import { FRESH, keyOf, PolicyStore } from "../src/PolicyStore.js"
import * as PolicyStoreLayer from "../src/PolicyStore.js"
import type { CycleServices } from "../src/Reporter.js"
import { TargetStartError } from "../src/Target.js"
import { captureLogs, eventually } from "./helpers.js"

const SECRET = "a-secret-of-more-than-thirty-two-bytes-0123"
const configText = (o: { interval: number; services: ReadonlyArray<string>; url?: string; listen?: string }) => `
convertor: {url: "http://127.0.0.1:1"}${o.listen === undefined ? "" : `\nobservability: {listen: "${o.listen}"}`}
status_dashboard: {url: "${o.url ?? "http://127.0.0.1:2"}", secret: ${SECRET}}
reporter:
  poll_interval: ${o.interval}
  services: [${o.services.map((s) => `{name: ${s}, environment: production}`).join(", ")}]
`

const FsLive = Layer.merge(NodeFileSystem.layer, NodePath.layer)

/** A world of one configuration file, a SIGHUP queue, and the generations over them. */
const world = (first: string, build: (c: ReporterConfig) => Effect.Effect<void, TargetStartError> = () => Effect.void) =>
  Effect.gen(function* () {
    const file = join(mkdtempSync(join(tmpdir(), "cmr-generations-")), "config.yaml")
    writeFileSync(file, first)
    const config = (yield* load(file, {}).pipe(Effect.provide(FsLive))).config
    const hangups = yield* Queue.unbounded<Hangup>()
    const closed: Array<number> = []
    const managed = (c: ReporterConfig) => Effect.succeed({ services: c.reporter.services, targets: c.targets, backend: undefined })
    const store = PolicyStoreLayer.layer(yield* managed(config))
    const liveness = Liveness.layer(config.reporter.poll_interval)
    const layer = Generations.layer({
      file,
      env: {},
      first: config,
      // What a generation built is closed with its scope, also when building it failed half-way.
      build: (c) =>
        Effect.addFinalizer(() => Effect.sync(() => closed.push(Duration.toSeconds(c.reporter.poll_interval)))).pipe(
          Effect.zipRight(build(c)),
          Effect.as(Context.make(AppConfig, c) as unknown as Context.Context<CycleServices>)
        ),
      managed
    }).pipe(
      Layer.provideMerge(Layer.mergeAll(store, liveness, Layer.succeed(Hangups, { subscribe: Effect.succeed(Stream.fromQueue(hangups)) }), FsLive))
    )
    const context = yield* Layer.build(layer)
    const next = Effect.map(Context.get(context, Generations.Generations).next, (c) => Duration.toSeconds(Context.get(c, AppConfig).reporter.poll_interval))
    return { file, hangups, closed, next, context }
  })

describe("configuration generations", () => {
  it.scoped("a valid reload is taken up by the next cycle only; the one it displaces is closed then; liveness learns the new interval", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const w = yield* world(configText({ interval: 60, services: ["api"] })).pipe(Effect.provide(logs.layer))
      expect(yield* w.next).toBe(60)
      writeFileSync(w.file, configText({ interval: 20, services: ["api", "db"] }))
      yield* Queue.offer(w.hangups, "signal")
      yield* eventually("the reload", () => logs.lines.some((l) => l.includes("Configuration reloaded")))
      expect(logs.lines.find((l) => l.includes("Configuration reloaded"))).toContain("services added: db/production; reporter.poll_interval 60s -> 20s")
      expect(w.closed).toEqual([]) // nothing swapped under a running cycle
      expect(yield* w.next).toBe(20)
      expect(w.closed).toEqual([60])
      expect((yield* Context.get(w.context, Liveness.Liveness).get).nextInterval).toEqual(Duration.seconds(20))
    })
  )

  it.scoped("an invalid configuration, or a target that cannot start, is refused: the daemon goes on with what it has", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const w = yield* world(configText({ interval: 60, services: ["api"] }), (c) =>
        c.status_dashboard["url"] === "http://127.0.0.1:9" ? Effect.fail(new TargetStartError({ message: "the dashboard is down" })) : Effect.void
      ).pipe(Effect.provide(logs.layer))
      writeFileSync(w.file, "reporter: {poll_interval: often}\n")
      yield* Queue.offer(w.hangups, "signal")
      yield* eventually("the refusal", () => logs.lines.some((l) => l.includes("Reload refused: still running")))
      // A mistyped key is refused too, not ignored (`notifier:` would drop paging).
      writeFileSync(w.file, configText({ interval: 30, services: ["api"] }) + "notifier: []\n")
      yield* Queue.offer(w.hangups, "signal")
      yield* eventually("the typo's refusal", () => logs.lines.some((l) => l.includes('unknown key notifier (did you mean "notifiers"?): correct it or remove it')))
      writeFileSync(w.file, configText({ interval: 30, services: ["api"], url: "http://127.0.0.1:9" }))
      yield* Queue.offer(w.hangups, "signal")
      yield* eventually("the second refusal", () => logs.lines.some((l) => l.includes("Reload refused: the dashboard is down; still running")))
      expect(yield* w.next).toBe(60)
      expect(w.closed).toEqual([30]) // the generation that could not start was closed at once
    })
  )

  it.scoped("a hang-up during start-up is said, and acted on", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const w = yield* world(configText({ interval: 60, services: ["api"] })).pipe(Effect.provide(logs.layer))
      writeFileSync(w.file, configText({ interval: 45, services: ["api"] }))
      yield* Queue.offer(w.hangups, "early")
      yield* eventually("the reload", () => logs.lines.some((l) => l.includes("Configuration reloaded")))
      expect(logs.lines.some((l) => l.includes("SIGHUP received during start-up: reloading now"))).toBe(true)
      expect(yield* w.next).toBe(45)
    })
  )

  it.scoped("taking up a generation keeps the tracks of what is still configured the same way, and forgets the rest", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const w = yield* world(configText({ interval: 60, services: ["api", "db"] })).pipe(Effect.provide(logs.layer))
      const store = Context.get(w.context, PolicyStore)
      const outage = { ...FRESH, candidate: 2, streak: 1, effective: 2, delivered: 2, lastSentAt: 0 }
      const api = keyOf("dashboard", { name: "api", environment: "production" })
      const db = keyOf("dashboard", { name: "db", environment: "production" })
      store.set(api, outage)
      store.set(db, outage)
      writeFileSync(w.file, configText({ interval: 60, services: ["api"] }))
      yield* Queue.offer(w.hangups, "signal")
      yield* eventually("the reload", () => logs.lines.some((l) => l.includes("Configuration reloaded")))
      expect(store.get(db)).toEqual(outage) // not before the swap
      yield* w.next
      expect(store.get(api)).toEqual(outage)
      expect(store.get(db)).toEqual(FRESH)
      // Another dashboard URL is another dashboard: nothing it was told is known.
      writeFileSync(w.file, configText({ interval: 60, services: ["api"], url: "http://127.0.0.1:3" }))
      yield* Queue.offer(w.hangups, "signal")
      yield* eventually("the second reload", () => logs.lines.filter((l) => l.includes("Configuration reloaded")).length === 2)
      yield* w.next
      expect(store.get(api)).toEqual(FRESH)
    })
  )

  it.scoped("the endpoint's address is compared with where it listens, not with the last reload", () =>
    Effect.gen(function* () {
      const logs = captureLogs()
      const w = yield* world(configText({ interval: 60, services: ["api"], listen: "127.0.0.1:9464" })).pipe(Effect.provide(logs.layer))
      const reloaded = (n: number) => eventually(`reload ${n}`, () => logs.lines.filter((l) => l.includes("Configuration reloaded")).length === n)
      writeFileSync(w.file, configText({ interval: 60, services: ["api"], listen: "127.0.0.1:9465" }))
      yield* Queue.offer(w.hangups, "signal")
      yield* reloaded(1)
      yield* w.next
      expect(logs.lines.at(-1)).toContain("observability.listen changed: that takes a restart")
      writeFileSync(w.file, configText({ interval: 60, services: ["api"], listen: "127.0.0.1:9464" }))
      yield* Queue.offer(w.hangups, "signal")
      yield* reloaded(2)
      expect(logs.lines.filter((l) => l.includes("Configuration reloaded")).at(-1)).toContain("nothing changed")
    })
  )
})
