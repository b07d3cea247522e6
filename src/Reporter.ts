/**
 * The use case: one poll cycle over every configured service, and the loop
 * that repeats it. Talks only to the ports (Convertor, Dashboard) and Clock.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { AppConfig } from "./Config.js"
import { type CycleSummary, type Outcome, summarize, summaryFields, summaryLine, type TargetResult } from "./Summary.js"
import { Convertor } from "./Convertor.js"
import { type Delivery, type TargetError, type TargetPort, Targets } from "./Target.js"
import { clip, type Health, kindOf, type Notification, type Reading, type ServiceRef, serviceId, statusLabel } from "./Domain.js"
import { Leadership } from "./Leadership.js"
import { Liveness } from "./Liveness.js"
import { Maintenance } from "./Maintenance.js"
import { count, Metrics, type MetricsPort } from "./Metrics.js"
import { Policy, type PolicyService } from "./Policy.js"
import { IN_FLIGHT_GRACE } from "./Shutdown.js"
import { Fielded } from "./Logging.js"
import { phaseBudget } from "./Budget.js"
import { watchBlindness } from "./Blind.js"

/** `--dry-run`: every request is built and signed, none is sent. */
export class DryRun extends Context.Reference<DryRun>()("reporter/DryRun", { defaultValue: () => false }) {}

/** What the convertor said about why, for the log line: each field at most MAX_LOGGED characters. */
const why = (health: Health): Record<string, string> => ({
  ...(health.matchedExpression ? { matched_expression: clip(health.matchedExpression, MAX_LOGGED) } : {}),
  ...(health.triggeredMetrics.length > 0 ? { triggered_metrics: clip(health.triggeredMetrics.join(","), MAX_LOGGED) } : {}),
  ...(health.region ? { region: clip(health.region, MAX_LOGGED) } : {})
})

/** A log line stays readable (and a log pipeline's line limit far away) whatever the convertor sends. */
export const MAX_LOGGED = 500

/**
 * What reading and notifying one service needs, resolved once per cycle
 * rather than once per service: the per-service path is the cycle's hot
 * loop, and each lookup of a service or of the clock is work for the runtime.
 */
interface Ports {
  readonly convertor: Convertor
  readonly targets: ReadonlyArray<TargetPort>
  readonly policy: PolicyService
  readonly dryRun: boolean
  readonly metrics: MetricsPort
  readonly clock: Clock.Clock
  /** Whether debug lines are written at all: a line that would be dropped is not even built. */
  readonly debug: boolean
  /** Where notifications go: each target's own line, for this cycle. */
  readonly outbox: Outbox
  /** Whether this replica may still read and send (Leadership.ts): checked before each read and each notification. */
  readonly leading: () => boolean
  /** For targets that take a cycle's notifications together (chat): what is due to each, gathered as the reads end. */
  readonly batches: Map<string, Array<Batched>>
}

/** One notification waiting for its target's batch, and where its result goes. */
interface Batched {
  readonly service: ServiceRef
  readonly notification: Notification
  readonly now: number
  readonly sending: Sending
}

const portsNow = (outbox: Outbox, leading: () => boolean): Effect.Effect<Ports, never, Convertor | Targets | Policy> => Effect.all({
  outbox: Effect.succeed(outbox),
  leading: Effect.succeed(leading),
  batches: Effect.sync(() => new Map<string, Array<Batched>>()),
  convertor: Convertor,
  targets: Targets,
  policy: Policy,
  dryRun: DryRun,
  metrics: Metrics,
  clock: Effect.clock,
  debug: Effect.map(FiberRef.get(FiberRef.currentMinimumLogLevel), (level) => LogLevel.lessThanEqual(level, LogLevel.Debug))
})

/** A bug of ours met while `doing` something for one service: one line, no stack, and the others go on. */
const internalError = (doing: string, defect: unknown): Effect.Effect<void> =>
  Effect.logError(`Internal error while ${doing} (please report it): ${String(defect).split("\n")[0]}`)

/** What one notification came to at one target: logged and counted; a failure here touches no other target. */
const record = (
  p: Ports,
  target: TargetPort,
  notification: Notification,
  outcome: Either.Either<Delivery, TargetError>,
  /** A batch's failures are one failure: each message said once. */
  said?: Set<string>
): Effect.Effect<TargetResult> => {
  if (Either.isLeft(outcome)) {
    const e = outcome.left
    const first = said === undefined || !said.has(e.message)
    said?.add(e.message)
    if (e.rateLimit !== undefined) {
      // The limit's doing, not a failure: it stays due, and its service is read first next cycle.
      p.metrics.notification(target.name, "skipped")
      return Effect.as(
        first ? Effect.logInfo(`Not sent to ${target.name} this cycle: held back by ${e.rateLimit}; it stays due and goes first next cycle`) : Effect.void,
        "deferred" as const
      )
    }
    p.metrics.notification(target.name, e.refused === true ? "refused" : "failed")
    return Effect.as(first ? Effect.logError(e.message) : Effect.void, "failed" as const)
  }
  const delivery = outcome.right
  if (delivery._tag !== "Delivered") {
    p.metrics.notification(target.name, "skipped")
    return Effect.as(Effect.logWithLevel(LEVELS[delivery.level], `Not sent to ${target.name}: ${delivery.why}`), delivery.final ? ("skipped" as const) : ("deferred" as const))
  }
  p.metrics.notification(target.name, "delivered")
  return Effect.as(Effect.logInfo(`Sent notification to ${target.name}: success (${kindOf(notification)})`), "delivered" as const)
}

/** One target, on its own: a failure here is logged and counted, and touches no other target. */
const deliver = (p: Ports, target: TargetPort, notification: Notification): Effect.Effect<TargetResult> =>
  p.dryRun
    ? target.rehearse(notification).pipe(
        Effect.matchEffect({
          onFailure: (e) => Effect.as(Effect.logError(e.message), "failed" as const),
          onSuccess: (described) => Effect.as(Effect.logInfo(`Dry run: would send notification to ${target.name} (${kindOf(notification)}): ${described}`), "rehearsed" as const)
        })
      )
    : Effect.flatMap(Effect.either(target.notify(notification)), (outcome) => record(p, target, notification, outcome))

/**
 * One info line with extra annotations. (`annotateLogs` around the line sets and
 * restores them in an uninterruptible scope, several times the work; a line
 * cannot be cut half-way, and a worker's annotations are reset per service.)
 */
const logInfoWith = (message: string, extra: Record<string, string>): Effect.Effect<void> =>
  Effect.flatMap(
    FiberRef.getAndUpdate(FiberRef.currentLogAnnotations, (annotations) =>
      Object.entries(extra).reduce((all, [key, value]) => HashMap.set(all, key, value), annotations)
    ),
    (before) => Effect.zipRight(Effect.logInfo(message), FiberRef.set(FiberRef.currentLogAnnotations, before))
  )

const LEVELS = { warn: LogLevel.Warning, info: LogLevel.Info, debug: LogLevel.Debug } as const

/**
 * A service read whose notifications are on their way: each target's result
 * lands in `results` as its delivery ends (`pending` until then).
 */
interface Sending {
  readonly _tag: "Sending"
  readonly service: ServiceRef
  readonly status: number
  readonly results: Record<string, TargetResult | "pending">
}

/** What a poll comes to by the end of its read: an outcome, or notifications still on their way. */
type Read = Outcome | Sending

/** What a reading came to, once it is in: the policy's decisions are plain calls; notifications are handed to each target's own line. */
const afterRead = (p: Ports, service: ServiceRef, reading: Reading): Effect.Effect<Read> => {
  p.metrics.convertorRequest(reading._tag === "NoData" ? "no_data" : reading._tag === "Stale" ? "stale" : "ok")
  if (reading._tag === "NoData") {
    return Effect.as(Effect.logInfo("No data from convertor for this window: nothing sent"), { _tag: "NoData", service } as const)
  }
  if (reading._tag === "Stale") {
    return Effect.as(Effect.logWarning(`Stale reading from convertor: ${reading.why}; nothing sent`), { _tag: "Stale", service } as const)
  }
  const health = reading.health
  const now = p.clock.unsafeCurrentTimeMillis()
  const due: Array<readonly [TargetPort, Notification]> = []
  for (const target of p.targets) {
    const notification = p.policy.decide(target.name, service, health, now)
    if (Option.isSome(notification)) due.push([target, notification.value])
  }
  const said =
    health.status !== 0
      ? logInfoWith(`Health status: ${health.status} (${statusLabel(health.status)})`, why(health))
      : p.debug
        ? Effect.logDebug(`Health status: 0 (${statusLabel(0)})`)
        : Effect.void
  if (due.length === 0) {
    return Effect.as(said, health.status === 0 ? ({ _tag: "Healthy", service } as const) : ({ _tag: "Held", service, status: health.status } as const))
  }
  const sending: Sending = { _tag: "Sending", service, status: health.status, results: {} }
  // What a delivery came to is recorded as it ends, in the same fiber: one that the peer took is
  // never forgotten, not even when a stop lets it finish (and so is never sent again after a restart).
  const toOne = ([target, notification]: (typeof due)[number]) => {
    sending.results[target.name] = "pending"
    // A target that takes the cycle's notifications together gets them when the reads end (sendBatches).
    if (target.notifyMany !== undefined && !p.dryRun) {
      let batch = p.batches.get(target.name)
      if (batch === undefined) p.batches.set(target.name, (batch = []))
      batch.push({ service, notification, now, sending })
      return Effect.void
    }
    return p.outbox.post(
      target,
      deliver(p, target, notification).pipe(
        // A bug of ours while notifying one target is that target's failure, never the end of its line.
        Effect.catchAllDefect((defect) => Effect.as(internalError(`notifying ${target.name}`, defect), "failed" as const)),
        Effect.map((result) => {
          // Said, or skipped for good: done. Failed, or skipped for now: due again next cycle.
          if (result !== "failed" && result !== "deferred") p.policy.delivered(target.name, service, notification, now)
          sending.results[target.name] = result
        })
      )
    )
  }
  return Effect.zipRight(said, Effect.as(Effect.forEach(due, toOne, { discard: true }), sending))
}

/**
 * The reads are over: each target that takes notifications together gets
 * this cycle's in one delivery on its line (one message, or as few as its
 * limits allow), and each notification's result is recorded as if sent alone.
 */
const sendBatches = (p: Ports): Effect.Effect<void> =>
  Effect.suspend(() => Effect.forEach(
    // Looked at when it runs (at the phase budget, or when the reads end), not when it is built.
    p.leading() ? p.targets.filter((t) => t.notifyMany !== undefined && (p.batches.get(t.name)?.length ?? 0) > 0) : [],
    (target) => {
      // What is gathered now goes; what the reads still bring goes in the next batch.
      const batch = p.batches.get(target.name)!
      p.batches.set(target.name, [])
      const said = new Set<string>()
      return p.outbox.post(
        target,
        target.notifyMany!(
          batch.map((b) => b.notification),
          (i, outcome) => {
            const b = batch[i]!
            // Recorded as soon as the request that carried it is answered: never sent twice.
            return Effect.map(record(p, target, b.notification, outcome, said), (result) => {
              if (result !== "failed" && result !== "deferred") p.policy.delivered(target.name, b.service, b.notification, b.now)
              b.sending.results[target.name] = result
            })
          }
        ).pipe(
          Effect.catchAllDefect((defect) =>
            Effect.zipRight(
              internalError(`notifying ${target.name}`, defect),
              Effect.sync(() => batch.forEach((b) => b.sending.results[target.name] === "pending" && (b.sending.results[target.name] = "failed")))
            )
          )
        )
      )
    },
    { discard: true }
  ))

/** What a service came to once its notifications are delivered, or were not by the cycle's end (then they stay due). */
const settled = (read: Read, dryRun: boolean): Outcome => {
  if (read._tag !== "Sending") return read
  const targets = Object.fromEntries(Object.entries(read.results).map(([name, r]) => [name, r === "pending" ? ("deferred" as const) : r]))
  const results = Object.values(targets)
  const tag = results.includes("failed") ? "NotifyFailed" : read.status === 0 ? "Healthy" : dryRun ? "Rehearsed" : "Notified"
  return { _tag: tag, service: read.service, status: read.status, targets }
}

/**
 * Each target's own line of deliveries for one cycle: at most `concurrency`
 * of its notifications at a time, so a slow or rate-limited target delays
 * only itself, and the reads never wait for any. `settle` waits for every
 * line until the cycle's deadline. Then, and when the cycle is stopped
 * (SIGTERM), what has not started is dropped and stays due (the policy did
 * not record it), so it is neither lost nor sent twice; what is on the wire
 * gets IN_FLIGHT_GRACE to finish and be recorded.
 */
interface Outbox {
  readonly post: (target: TargetPort, delivery: Effect.Effect<void>) => Effect.Effect<void>
  readonly settle: (within: Duration.Duration) => Effect.Effect<void>
}

/** One target's line: what waits to be sent, and how many workers are sending. */
interface Line {
  readonly waiting: Array<Effect.Effect<void>>
  busy: number
}

const outbox = (concurrency: number, leading: () => boolean): Effect.Effect<Outbox, never, Scope.Scope> =>
  Effect.gen(function* () {
    const lines = new Map<string, Line>()
    const workers: Array<Fiber.RuntimeFiber<void>> = []
    let open = true
    // A worker sends what its line holds, one at a time, until the line is empty (or the outbox closed,
    // or this replica no longer leads: what has not started stays due, for the leader).
    // The check and the count of busy workers change in one step: a notification posted as a worker
    // leaves always finds a worker (this one, or a new one).
    const work = (line: Line) =>
      Effect.whileLoop({
        while: () => (open && line.waiting.length > 0 && leading()) || ((line.busy -= 1), false),
        body: () => line.waiting.shift()!,
        step: () => {}
      })
    // Run at the deadline (settle) and again by the finalizer: the second time there is nothing left to do.
    const stop = Effect.gen(function* () {
      if (!open) return
      // Not started: dropped (it stays due). On the wire: a grace to finish, and be recorded.
      open = false
      for (const line of lines.values()) line.waiting.length = 0
      if (workers.every((w) => w.unsafePoll() !== null)) return
      // This runs where it cannot be interrupted, and neither could a timeout raced here:
      // a watchdog fiber ends what is still on the wire when the grace is over.
      const watchdog = yield* Effect.forkDaemon(Effect.interruptible(Effect.zipRight(Effect.sleep(IN_FLIGHT_GRACE), Fiber.interruptAll(workers))))
      yield* Fiber.awaitAll(workers)
      yield* Fiber.interrupt(watchdog)
    })
    // A stop during the cycle: the same as its deadline.
    yield* Effect.addFinalizer(() => stop)
    return {
      post: (target, delivery) =>
        Effect.suspend(() => {
          let line = lines.get(target.name)
          if (line === undefined) lines.set(target.name, (line = { waiting: [], busy: 0 }))
          line.waiting.push(delivery)
          if (line.busy >= Math.min(concurrency, target.concurrency ?? concurrency)) return Effect.void
          line.busy += 1
          // Daemon fibers: this outbox, not the fiber that read the service, decides when they end.
          return Effect.map(Effect.forkDaemon(work(line)), (fiber) => void workers.push(fiber))
        }),
      settle: (within) => Effect.zipRight(Effect.timeoutOption(Fiber.awaitAll(workers), within), stop)
    }
  })

/** Reads one service and, when it is not healthy, hands its notifications to the targets. Never fails: a failure is an outcome. */
const poll = (p: Ports, service: ServiceRef): Effect.Effect<Read> =>
  Effect.zipRight(
    Effect.logInfo(`Polling convertor for service: ${service.name}`),
    Effect.matchEffect(p.convertor.health(service), {
      onFailure: (error) => {
        // No notification: we would be sending stale or invented data.
        p.metrics.convertorRequest("failed")
        return Effect.as(Effect.logError(error.message), { _tag: "ReadFailed", service, why: clip(error.message, MAX_LOGGED) } as const)
      },
      onSuccess: (reading) => afterRead(p, service, reading)
    })
  ).pipe(
    Effect.catchAllDefect((defect) => Effect.as(internalError("polling this service", defect), { _tag: "Defect", service } as const))
  )

/**
 * Services a cycle did not reach, with how many cycles each has waited. The
 * next cycle starts with them (longest waiting first), so under overload every
 * service is still read at least once every ceil(N / reached) cycles.
 */
export type Backlog = Ref.Ref<ReadonlyMap<string, number>>

const inTurn = (services: ReadonlyArray<ServiceRef>, waiting: ReadonlyMap<string, number>): ReadonlyArray<ServiceRef> => {
  if (waiting.size === 0) return services
  const behind = services.filter((s) => waiting.has(serviceId(s)))
  behind.sort((a, b) => waiting.get(serviceId(b))! - waiting.get(serviceId(a))!)
  return [...behind, ...services.filter((s) => !waiting.has(serviceId(s)))]
}

/**
 * Every service once (those left behind last time first), at most
 * `reporter.concurrency` at a time, within one poll interval: services not
 * started by then are late, those not finished are failed, and the next cycle
 * starts on time. Then one summary line.
 */
/** Per service, how many cycles in a row its read has failed (a daemon's; a lone cycle starts afresh). */
export type Failing = Ref.Ref<ReadonlyMap<string, number>>

export const cycle = (backlog: Backlog, failing?: Failing): Effect.Effect<CycleSummary, never, AppConfig | Convertor | Targets | Policy | Maintenance> =>
  Effect.scoped(Effect.gen(function* () {
    const config = yield* AppConfig
    const dryRun = yield* DryRun
    const started = yield* Clock.currentTimeMillis
    const deadline = started + Duration.toMillis(config.reporter.poll_interval)
    const waiting = yield* Ref.get(backlog)
    // The convertor's maintenance windows are read alongside the polls (a slow answer delays no read).
    const maintenance = yield* Effect.flatMap(Maintenance, (m) => Effect.fork(m.refresh))
    // At most `reporter.concurrency` services at a time, and one deadline for the whole cycle (not a
    // racing timeout per service): each service records its outcome as it finishes; when time runs
    // out, those started are out of time, the rest late.
    const inOrder = inTurn(config.reporter.services, waiting)
    const done = new Array<Read | undefined>(inOrder.length)
    const begun = new Array<boolean>(inOrder.length).fill(false)
    const leadership = yield* Leadership
    const leading = () => leadership.leading()
    const sent = yield* outbox(config.reporter.concurrency, leading)
    const ports = yield* portsNow(sent, leading)
    // Targets that take a cycle's notifications together get them when the reads end, or, if the
    // reads run long, what has gathered by the phase budget (the rest when the reads end): a cycle
    // whose reads fill the interval still tells them.
    const early = yield* Effect.fork(Effect.delay(Effect.uninterruptible(sendBatches(ports)), phaseBudget(config.reporter.poll_interval)))
    // `concurrency` workers take the services in turn: one fiber per worker, not one per service, and
    // one write of the log annotations per service (not an `annotateLogs` scope). Measured against
    // `Effect.forEach` with `annotateLogs`: 15 % less CPU per 1000-service cycle (ARCHITECTURE.md).
    const unannotated = yield* FiberRef.get(FiberRef.currentLogAnnotations)
    let next = 0
    const worker = Effect.whileLoop({
      while: () => next < inOrder.length && leading(),
      body: () => {
        const i = next++
        begun[i] = true
        const service = inOrder[i]!
        return FiberRef.set(FiberRef.currentLogAnnotations, HashMap.set(HashMap.set(unannotated, "service", service.name), "environment", service.environment)).pipe(
          Effect.zipRight(poll(ports, service)),
          Effect.map((read) => (done[i] = read))
        )
      },
      step: () => {}
    }).pipe(Effect.ensuring(FiberRef.set(FiberRef.currentLogAnnotations, unannotated)))
    yield* Effect.all(Array.from({ length: Math.min(config.reporter.concurrency, inOrder.length) }, () => worker), {
      concurrency: "unbounded",
      discard: true
    }).pipe(Effect.timeoutOption(Duration.millis(Math.max(0, deadline - started))))
    // The reads are done: the targets that take a cycle's notifications together get them now.
    yield* Fiber.interrupt(early)
    yield* sendBatches(ports)
    // Each target delivers what it was handed, until the cycle's deadline.
    yield* sent.settle(Duration.millis(Math.max(0, deadline - (yield* Clock.currentTimeMillis))))
    yield* Fiber.join(maintenance)
    const outcomes = inOrder.map(
      (service, i): Outcome => {
        const read = done[i]
        return read !== undefined ? settled(read, dryRun) : begun[i] ? { _tag: "OutOfTime", service } : { _tag: "Late", service }
      }
    )
    const owed = new Map<string, number>()
    for (const read of done) {
      if (read?._tag !== "Sending") continue
      for (const [name, r] of Object.entries(read.results)) if (r === "pending") owed.set(name, (owed.get(name) ?? 0) + 1)
    }
    for (const [name, n] of owed) {
      yield* Effect.logWarning(
        `Target ${name}: ${n} notification(s) not delivered within reporter.poll_interval (${Duration.format(config.reporter.poll_interval)}): they stay due, for the next cycle; the target is slow or holds us back (a rate limit), and the others were not kept waiting`
      )
    }
    const left = new Map<string, number>()
    for (const o of outcomes) if (o._tag === "Late") left.set(serviceId(o.service), (waiting.get(serviceId(o.service)) ?? 0) + 1)
    // First next cycle: the services not reached, and those whose notifications a target held back.
    const first = new Map(left)
    for (const o of outcomes) {
      // Ahead of those not waiting, never ahead of a late one: a service held back for hours must not starve them.
      if ("targets" in o && o.targets !== undefined && Object.values(o.targets).includes("deferred") && !first.has(serviceId(o.service))) first.set(serviceId(o.service), 1)
    }
    yield* Ref.set(backlog, first)
    const cut = outcomes.filter((o) => o._tag === "OutOfTime").length
    const stepped = !leading()
    if (stepped) {
      yield* Effect.logWarning(
        `This replica no longer leads: the cycle stopped reading and sending; ${left.size} service(s) not read and what was not sent are the leader's now`
      )
    } else if (cut > 0) {
      yield* Effect.logWarning(
        `${cut} service(s) not done within reporter.poll_interval (${Duration.format(config.reporter.poll_interval)}): nothing was sent for them; raise reporter.concurrency or the interval, or look for a slow convertor or dashboard`
      )
    }
    if (left.size > 0 && !stepped) {
      yield* Effect.logWarning(
        `${left.size} service(s) not reached within reporter.poll_interval (${Duration.format(config.reporter.poll_interval)}): not read this cycle, they go first in the next; the longest has waited ${Math.max(...left.values())} cycle(s); raise reporter.poll_interval or reporter.concurrency`
      )
    }
    // A service whose reads alone keep failing is not silently skipped: after blind_after cycles its health is unknown.
    const streaks = new Map(failing === undefined ? [] : yield* Ref.get(failing))
    for (const o of outcomes) {
      const id = serviceId(o.service)
      if (o._tag === "ReadFailed" || o._tag === "OutOfTime" || o._tag === "Defect") {
        const n = (streaks.get(id) ?? 0) + 1
        streaks.set(id, n)
        if (n === config.reporter.blind_after) {
          const last = o._tag === "ReadFailed" ? (o.why ?? "?") : o._tag === "OutOfTime" ? "not answered within the cycle" : "an internal error"
          yield* Effect.logWarning(`No reading of ${o.service.name} in ${o.service.environment} for ${n} cycles in a row: its health is unknown (last: ${last})`)
        }
      } else if (o._tag !== "Late") {
        streaks.delete(id)
      }
    }
    if (failing !== undefined) yield* Ref.set(failing, streaks)
    const finished = yield* Clock.currentTimeMillis
    const summary = summarize(outcomes, Duration.millis(finished - started), (s) => (streaks.get(serviceId(s)) ?? 0) >= config.reporter.blind_after)
    // A dry run changes nothing that outlives it.
    if (!dryRun) yield* Effect.flatMap(Policy, (p) => p.persist)
    const line = new Fielded(summaryLine(summary, dryRun), "Cycle complete", summaryFields(summary, dryRun))
    yield* summary.failed > 0 || summary.late > 0 ? Effect.logWarning(line) : Effect.logInfo(line)
    if (Duration.greaterThan(summary.duration, config.reporter.poll_interval)) {
      yield* Effect.logWarning(
        `Cycle took ${Duration.format(summary.duration)}, longer than reporter.poll_interval (${Duration.format(config.reporter.poll_interval)}): the next cycle starts at once; raise reporter.concurrency or the interval`
      )
    }
    // Counted once the cycle is really over (its state written).
    const ended = yield* Clock.currentTimeMillis
    yield* count((m) => m.cycle(summary, ended))
    return summary
  }))

/** One cycle on its own (`--once`): no backlog from earlier cycles. */
export const runCycle: Effect.Effect<CycleSummary, never, AppConfig | Convertor | Targets | Policy | Maintenance> = Effect.flatMap(
  Ref.make<ReadonlyMap<string, number>>(new Map()),
  cycle
)

/** What a cycle runs with: one configuration's services. */
export type CycleServices = AppConfig | Convertor | Targets | Policy | Maintenance

/**
 * Polls at once, then every `poll_interval`, measured from the start of one
 * cycle to the start of the next: health windows stay evenly spaced. A cycle
 * that overruns is followed at once by the next, and missed cycles are not
 * made up (no pile-up). (`Schedule.fixed` would do the same, except that it
 * anchors at the end of the first run, so a slow first cycle would delay the
 * second by a whole extra interval.)
 *
 * `services` is asked for before each cycle (by default, the caller's own):
 * a live reload gives the next cycle a new configuration there, and never
 * changes one under a cycle that is running.
 */
export const runForever = <R = CycleServices>(
  afterCycle: (summary: CycleSummary) => Effect.Effect<void> = () => Effect.void,
  services: Effect.Effect<Context.Context<CycleServices>, never, R> = Effect.context<CycleServices>() as unknown as Effect.Effect<Context.Context<CycleServices>, never, R>
): Effect.Effect<never, never, R> =>
  Effect.gen(function* () {
    const backlog: Backlog = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
    const failing: Failing = yield* Ref.make<ReadonlyMap<string, number>>(new Map())
    const blind = watchBlindness()
    // A daemon tells its liveness (what /healthz reads) that each cycle completed, its state written.
    const liveness = yield* Effect.serviceOption(Liveness)
    const completed = Option.match(liveness, {
      onNone: () => Effect.void,
      onSome: (l) => Effect.flatMap(Clock.currentTimeMillis, l.cycleCompleted)
    })
    let interval = 0
    // With ha, a standby waits here until it leads; a cycle only runs on the leader.
    const leadership = yield* Leadership
    const once = Effect.zipRight(
      leadership.awaitLeading,
      Effect.flatMap(services, (context) => {
        interval = Duration.toMillis(Context.get(context, AppConfig).reporter.poll_interval)
        return cycle(backlog, failing).pipe(
          // What the notifiers were told of blindness is saved with the rest (a new leader owes the all-clear).
          Effect.tap((summary) => (leadership.leading() ? Effect.zipRight(blind(summary), Effect.flatMap(Policy, (p) => p.persist)) : Effect.void)),
          Effect.provide(context)
        )
      })
    )
    const pacing = Schedule.identity<CycleSummary>().pipe(
      Schedule.addDelay((summary) => Duration.millis(Math.max(0, interval - Duration.toMillis(summary.duration))))
    )
    return yield* once.pipe(Effect.tap(() => completed), Effect.tap(afterCycle), Effect.repeat(pacing), Effect.zipRight(Effect.never))
  })
