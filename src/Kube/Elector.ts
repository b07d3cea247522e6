/**
 * Leader election through a coordination.k8s.io/v1 Lease, as client-go's
 * `tools/leaderelection` does it (each rule cites its line in
 * docs/protocols.md, "Kubernetes"): the same record (holder identity, lease
 * duration, acquire and renew time as MicroTime, transitions), the same
 * decisions (`tryAcquireOrRenew`), the same timing (acquire every retry
 * period with jitter 1.2, renew every retry period, give up after the renew
 * deadline) and `ReleaseOnCancel`. Times are this process's clock: a standby
 * counts a lease's duration from when it saw the record change, never from
 * the holder's `renewTime`, so clock skew between nodes does not matter.
 *
 * One addition, fencing by time: the replica leads (Leadership.ts) only
 * while its last successful renewal is younger than the renew deadline, and
 * only once it has read back the state the last leader left (`elected`). A
 * standby can take the lease no sooner than the lease duration after the
 * last renewal it saw, later than the deadline, so two replicas are never
 * active at once.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import type { LeadershipService } from "../Leadership.js"
import { isoSeconds } from "../Domain.js"
import type { KubeObject, ObjectError, OwnedObject } from "./Objects.js"
import { describe } from "./Objects.js"

/** client-go's wait.Jitter factor for the acquire loop (leaderelection.go, JitterFactor). */
export const JITTER_FACTOR = 1.2

/** client-go's LeaderElectionRecord, as a LeaseSpec holds it. */
export interface LeaseRecord {
  readonly holderIdentity: string
  readonly leaseDurationSeconds: number
  readonly acquireTime: string | undefined
  readonly renewTime: string | undefined
  readonly leaseTransitions: number
}

/**
 * A MicroTime: RFC 3339 with exactly six fractional digits and Z (the API
 * server parses it with the layout 2006-01-02T15:04:05.000000Z07:00, and
 * refuses JavaScript's three).
 */
export const microTime = (millis: number): string => new Date(millis).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z")

const recordOf = (lease: KubeObject | undefined): LeaseRecord | undefined => {
  if (lease === undefined) return undefined
  const spec = (typeof lease["spec"] === "object" && lease["spec"] !== null ? lease["spec"] : {}) as Record<string, unknown>
  return {
    holderIdentity: typeof spec["holderIdentity"] === "string" ? spec["holderIdentity"] : "",
    leaseDurationSeconds: typeof spec["leaseDurationSeconds"] === "number" ? spec["leaseDurationSeconds"] : 0,
    acquireTime: typeof spec["acquireTime"] === "string" ? spec["acquireTime"] : undefined,
    renewTime: typeof spec["renewTime"] === "string" ? spec["renewTime"] : undefined,
    leaseTransitions: typeof spec["leaseTransitions"] === "number" ? spec["leaseTransitions"] : 0
  }
}

/** client-go's LeaderElectionRecordToLeaseSpec: what a write puts in `spec`. */
const specOf = (r: LeaseRecord) => ({
  holderIdentity: r.holderIdentity,
  leaseDurationSeconds: r.leaseDurationSeconds,
  ...(r.acquireTime === undefined ? {} : { acquireTime: r.acquireTime }),
  ...(r.renewTime === undefined ? {} : { renewTime: r.renewTime }),
  leaseTransitions: r.leaseTransitions
})

export interface ElectorOptions {
  readonly lease: OwnedObject
  /** Unique per process (Kube/Identity.ts). */
  readonly identity: string
  readonly leaseDuration: Duration.Duration
  readonly renewDeadline: Duration.Duration
  readonly retryPeriod: Duration.Duration
  /**
   * Run when the lease is won, before the replica counts as leading: the
   * state the last leader left is read back. Failing, it is tried again after
   * each renewal; the replica does not lead until it succeeds.
   */
  readonly elected: Effect.Effect<void, string>
  /** Each time the lease was read or written: a standby is alive while it watches. */
  readonly observed: (atMillis: number) => Effect.Effect<void>
  /** Leading or not, as it changes (the metric). */
  readonly changed: (leading: boolean) => Effect.Effect<void>
}

export interface Elector extends LeadershipService {
  /** Acquire, renew, and stand by again when it is lost: runs until interrupted; then releases the lease if held. */
  readonly run: Effect.Effect<never>
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`

export const makeElector = (o: ElectorOptions): Effect.Effect<Elector> =>
  Effect.gen(function* () {
    const what = describe(o.lease.ref)
    const durationMs = Duration.toMillis(o.leaseDuration)
    const deadlineMs = Duration.toMillis(o.renewDeadline)
    const retryMs = Duration.toMillis(o.retryPeriod)
    const latch = yield* Effect.makeLatch(false)
    // Decisions are timed by a monotonic clock (as Go's time.Now carries one): a wall clock stepped back
    // must not extend a lease, nor one stepped forward shorten another's. The record's times are wall time.
    const clock = yield* Effect.clock
    const mono = () => Number(clock.unsafeCurrentTimeNanos() / 1_000_000n)
    // client-go's observedRecord, observedRawRecord and observedTime (leaderelection.go).
    let observed: LeaseRecord | undefined
    let observedRaw = ""
    let observedTime = 0
    /** When the last write that made or kept us holder was sent (monotonic): the fence counts from it. */
    let renewedAt: number | undefined
    /** The state is read back and the replica acts while renewed. */
    let active = false
    /** The last holder seen that is not us, and when it last renewed by its record: the hand-over's start. */
    let lastOther: { identity: string; renewTime: string | undefined } | undefined
    let failing: string | undefined

    const isLeader = () => observed !== undefined && observed.holderIdentity === o.identity
    // client-go isLeaseValid: observedTime + the record's leaseDurationSeconds is after now.
    const leaseValid = (now: number) => observed !== undefined && observedTime + observed.leaseDurationSeconds * 1000 > now
    // client-go setObservedRecord: the time is taken when the record is set, after the answer that brought it.
    const setObserved = (record: LeaseRecord) => {
      observed = record
      observedTime = mono()
    }
    const leading = () => active && renewedAt !== undefined && mono() - renewedAt < deadlineMs

    const write = (record: LeaseRecord) => o.lease.write((current) => ({ ...current, spec: specOf(record) }))

    // A conflict is the race the API server settles (another replica wrote first); a fault is worth saying.
    const note = (error: ObjectError) => {
      if (error._tag !== "Conflict") failing = error.message
      return Effect.logDebug(`${what}: ${error.message}`)
    }

    /** client-go tryAcquireOrRenew: "renewed" (we held it), "acquired" (we took it), or "no". */
    const tryAcquireOrRenew = Effect.gen(function* () {
      const sentAt = mono()
      const wall = yield* Clock.currentTimeMillis
      const mine: LeaseRecord = {
        holderIdentity: o.identity,
        leaseDurationSeconds: Math.round(durationMs / 1000),
        acquireTime: microTime(wall),
        renewTime: microTime(wall),
        leaseTransitions: 0
      }
      // 1. The leader's fast path: update the record last seen, assuming it is current.
      if (isLeader() && leaseValid(mono())) {
        const record = { ...mine, acquireTime: observed!.acquireTime, leaseTransitions: observed!.leaseTransitions }
        const fast = yield* Effect.either(write(record))
        if (fast._tag === "Right") {
          setObserved(record)
          renewedAt = sentAt
          return "renewed" as const
        }
        yield* note(fast.left)
      }
      // 2. Read the record, or create it.
      const got = yield* Effect.either(o.lease.get)
      if (got._tag === "Left") return yield* Effect.as(note(got.left), "no" as const)
      if (got.right === undefined) {
        const created = yield* Effect.either(write(mine))
        if (created._tag === "Left") return yield* Effect.as(note(created.left), "no" as const)
        setObserved(mine)
        renewedAt = sentAt
        return "acquired" as const
      }
      yield* o.observed(yield* Clock.currentTimeMillis)
      // 3. A record that changed is observed now; one held by another, and not expired, is left alone.
      const record = recordOf(got.right)!
      const raw = JSON.stringify(got.right["spec"] ?? null)
      if (raw !== observedRaw) {
        observedRaw = raw
        setObserved(record)
      }
      if (record.holderIdentity !== "" && record.holderIdentity !== o.identity) lastOther = { identity: record.holderIdentity, renewTime: record.renewTime }
      if (record.holderIdentity.length > 0 && leaseValid(mono()) && !isLeader()) {
        failing = undefined
        return "no" as const
      }
      // 4. Ours to take (expired, released) or to renew.
      const renewing = isLeader()
      const next = renewing
        ? { ...mine, acquireTime: record.acquireTime, leaseTransitions: record.leaseTransitions }
        : { ...mine, leaseTransitions: record.leaseTransitions + 1 }
      const updated = yield* Effect.either(write(next))
      if (updated._tag === "Left") return yield* Effect.as(note(updated.left), "no" as const)
      observedRaw = ""
      setObserved(next)
      renewedAt = sentAt
      return renewing ? ("renewed" as const) : ("acquired" as const)
    })

    /** One try, and what it means to a standby: who leads, said once per holder; a lease it cannot read, said once per streak. */
    let saidHolder: string | undefined
    let saidFailing = false
    const standbyTry = Effect.gen(function* () {
      failing = undefined
      const won = (yield* tryAcquireOrRenew) !== "no"
      if (failing !== undefined && !saidFailing) {
        saidFailing = true
        yield* Effect.logWarning(`Standing by, and cannot read or write ${what}: ${failing}; this replica takes over nothing until it can`)
      } else if (failing === undefined && saidFailing) {
        saidFailing = false
        yield* Effect.logInfo(`${what} can be read again`)
      }
      const holder = observed?.holderIdentity ?? ""
      if (!won && holder !== "" && holder !== o.identity && holder !== saidHolder) {
        saidHolder = holder
        yield* Effect.logInfo(`Standing by: ${holder} leads (${what}); this replica polls and sends nothing until it takes over`)
      }
      return won
    })

    /** client-go acquire: try at once, then every retry period plus up to 1.2 of it at random, until the lease is ours. */
    const acquire = Effect.gen(function* () {
      while (!(yield* standbyTry)) {
        const jitter = yield* Random.next
        yield* Effect.sleep(Duration.millis(retryMs + jitter * JITTER_FACTOR * retryMs))
      }
    })

    /** The lease is won: read back the state the last leader left, then act (`active`); not when it cannot be read yet. */
    const becomeActive = Effect.gen(function* () {
      const read = yield* Effect.either(o.elected)
      if (read._tag === "Left") {
        return yield* Effect.logWarning(`Holding ${what}, but not acting yet: ${read.left}; tried again at the next renewal`)
      }
      active = true
      const wall = yield* Clock.currentTimeMillis
      const from = lastOther
      const since = from?.renewTime === undefined ? undefined : Date.parse(from.renewTime)
      yield* Effect.logInfo(
        `Leading now: ${o.identity} holds ${what}` +
          (from === undefined
            ? ""
            : `, taken over from ${from.identity}` + (since === undefined || Number.isNaN(since) ? "" : `; hand-over took ${seconds(wall - since)} since its last renewal at ${isoSeconds(since)}`))
      )
      saidHolder = undefined
      yield* o.changed(true)
      yield* latch.open
    })

    /**
     * client-go renew: every retry period; a renewal that does not succeed
     * within the renew deadline ends leadership (each try is cut at the
     * deadline too). A lease taken anew meanwhile (it had expired, or been
     * released) is a new election: the state is read back again. A holder
     * that cannot read the state for a lease duration gives the lease up.
     */
    const renew = (wonAt: number) =>
      Effect.gen(function* () {
        yield* becomeActive
        for (;;) {
          yield* Effect.sleep(o.retryPeriod)
          failing = undefined
          let result: "renewed" | "acquired" | "no" = "no"
          for (;;) {
            const left = renewedAt === undefined ? 0 : deadlineMs - (mono() - renewedAt)
            if (left <= 0) break
            result = yield* tryAcquireOrRenew.pipe(Effect.timeoutTo({ duration: Duration.millis(left), onTimeout: () => "no" as const, onSuccess: (r) => r }))
            if (result !== "no") break
            const after = renewedAt === undefined ? 0 : deadlineMs - (mono() - renewedAt)
            if (after <= 0) break
            yield* Effect.sleep(Duration.millis(Math.min(retryMs, after)))
          }
          if (result === "no") return "lost" as const
          if (result === "acquired" && active) yield* stepDown("was lost meanwhile and taken again")
          if (!active) yield* becomeActive
          if (!active && mono() - wonAt >= durationMs) return "unready" as const
        }
      })

    const stepDown = (why: string) =>
      Effect.gen(function* () {
        const wasActive = active
        active = false
        yield* latch.close
        if (wasActive) {
          yield* Effect.logWarning(`No longer leading: ${what} ${why}; polling and sending stopped, standing by`)
          yield* o.changed(false)
        }
      })

    /**
     * client-go release (ReleaseOnCancel, tryRelease): read the record; if it
     * is still ours, write an empty holder and a one-second lease, so a
     * standby takes over at its next try; a conflict (a renewal answered
     * late) is read again and tried again, within the renew deadline.
     */
    const releaseOnce = Effect.gen(function* () {
      for (;;) {
        const got = yield* o.lease.get
        const record = recordOf(got)
        if (record === undefined || record.holderIdentity !== o.identity) return false
        const wall = yield* Clock.currentTimeMillis
        const released: LeaseRecord = { holderIdentity: "", leaseDurationSeconds: 1, acquireTime: microTime(wall), renewTime: microTime(wall), leaseTransitions: record.leaseTransitions }
        const done = yield* Effect.either(write(released))
        if (done._tag === "Right") {
          setObserved(released)
          return true
        }
        if (done.left._tag !== "Conflict") return yield* Effect.fail(done.left)
      }
    })
    const release = (why: string) =>
      Effect.gen(function* () {
        if (!isLeader() && !active) return
        yield* stepDown(why)
        const done = yield* Effect.either(releaseOnce.pipe(Effect.timeoutFail({ duration: o.renewDeadline, onTimeout: () => ({ message: "no answer in time" }) })))
        if (done._tag === "Left") return yield* Effect.logWarning(`Could not release ${what} (${done.left.message}): a standby takes over when it expires`)
        if (done.right) yield* Effect.logInfo(`Released ${what}: a standby takes over within ha.lease.retry_period`)
      })

    const cycle = Effect.gen(function* () {
      yield* acquire
      const ended = yield* renew(mono())
      if (ended === "lost") {
        yield* stepDown(`was not renewed within ha.lease.renew_deadline (${seconds(deadlineMs)})${failing === undefined ? "" : `: ${failing}`}`)
        return
      }
      // Held for a lease duration without the state: another replica may do better.
      yield* release("is given up: the notification state could not be read for a lease duration")
      yield* Effect.sleep(o.leaseDuration)
    })

    return {
      leading,
      awaitLeading: latch.await,
      run: Effect.forever(cycle).pipe(Effect.onInterrupt(() => release("is being released (stopping)")))
    }
  })
