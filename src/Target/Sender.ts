/**
 * What every target does with one notification: build the request (signing
 * it, if the protocol signs), send it within what is left of the phase
 * budget, judge the reply, and retry what is worth retrying. Adapters give the request
 * and, where their protocol needs it, their own judgement of a reply.
 */
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { leadingNow } from "../Leadership.js"
import type * as Redacted from "effect/Redacted"
import { attemptTimeout, budgetHint } from "../Budget.js"
import { TargetError, DELIVERED, type Delivery, labelOf, TargetStartError, type TargetSpec } from "../Target.js"
import type { Notification } from "../Domain.js"
import { makeSigner } from "../Jwt.js"
import { badResponse, fromFault, fromReply, type PeerFailure } from "../PeerError.js"
import { type RetryOptions, retryWithin } from "../Retry.js"
import { type Reply, type Request, Transport } from "../Transport.js"

export interface SenderOptions {
  /** The peer as messages show it: a URL without credentials, or a description. */
  readonly peer: string
  /** What a 401 or 403 says to check (`check notifiers[0].api_key`). */
  readonly authHint: string
  /** The key of the target's address, which a redirect says to correct (default `<path>.url`). */
  readonly urlKey?: string
  /** Around each exchange: a shared rate limit, where the protocol has one. */
  readonly gate?: <A, E, R>(exchange: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The gate's limit, as logs name it (`Slack's 1 message a second per webhook`). */
  readonly limit?: string
  /** Up to 3 retries, 1 s, 2 s, 4 s apart (jittered) unless the protocol says otherwise. */
  readonly retry?: Omit<RetryOptions, "budget">
}

/** Up to 3 retries (4 attempts), 1 s, 2 s, 4 s apart (jittered), within the phase budget. */
export const RETRY = { base: Duration.seconds(1), retries: 3 } as const

/** Every target's settings have a timeout (`<path>.timeout`). */
interface Timed {
  readonly timeout: Duration.Duration
}

type Failure = PeerFailure<TargetError["reason"]>

export const makeSender = (spec: TargetSpec<Timed>, budget: Duration.Duration, options: SenderOptions) =>
  Effect.map(Transport, (transport) => sender({ ...options, transport, name: spec.name, label: labelOf(spec), budget, timeout: { key: `${spec.path}.timeout`, timeout: spec.settings.timeout }, urlKey: options.urlKey ?? `${spec.path}.url`, retry: options.retry ?? RETRY }))

const sender = (
  o: SenderOptions & {
    readonly transport: Context.Tag.Service<typeof Transport>
    readonly name: string
    readonly label: string
    readonly budget: Duration.Duration
    readonly timeout: { readonly key: string; readonly timeout: Duration.Duration }
    readonly urlKey: string
    readonly retry: Omit<RetryOptions, "budget">
  }
) => {
  const fail = (n: Notification, failure: Failure) => new TargetError({ peer: o.peer, label: o.label, service: n.service, ...failure })
  const budgetSpent = (n: Notification) => fail(n, { ...badResponse(`not delivered before ${budgetHint(o.budget)}`), reason: "Timeout" })
  const heldBack = (n: Notification) =>
    new TargetError({
      peer: o.peer,
      label: o.label,
      service: n.service,
      ...badResponse(`held back by ${o.limit ?? "its rate limit"} past the ${Duration.format(o.budget)} budget`),
      reason: "Timeout",
      rateLimit: o.limit ?? "its rate limit"
    })

  /** ha: a replica that no longer leads puts nothing more on the wire (a Stackmon change is several requests); it stays due, for the leader. */
  const steppedDown = (n: Notification) =>
    new TargetError({
      peer: o.peer,
      label: o.label,
      service: n.service,
      ...badResponse("not sent: this replica no longer leads"),
      reason: "Timeout",
      rateLimit: "the hand-over to the replica that leads now"
    })

  /** 2xx is delivered; 401/403 is the credential; anything else as every peer reads it. */
  const judgeStatus = (n: Notification, reply: Reply, now: number): Effect.Effect<Delivery, TargetError> => {
    if (reply.status >= 200 && reply.status < 300) return Effect.succeed(DELIVERED)
    const failure = fromReply(reply, o.urlKey, now)
    return reply.status === 401 || reply.status === 403
      ? Effect.fail(fail(n, { ...failure, reason: "AuthFailed", detail: o.authHint }))
      : Effect.fail(fail(n, failure))
  }

  /** One request, retried within the budget; `judge` says what its reply comes to (a Delivery, or what a protocol reads from it). */
  const exchange = <A>(
    n: Notification,
    build: (nowMillis: number) => Effect.Effect<Request, TargetError>,
    judge: (reply: Reply, nowMillis: number) => Effect.Effect<A, TargetError>
  ): Effect.Effect<A, TargetError> => {
    const attempt = (remaining: Duration.Duration) =>
      Effect.gen(function* () {
        if (!(yield* leadingNow)) return yield* Effect.fail(steppedDown(n))
        const now = yield* Clock.currentTimeMillis
        const request = yield* build(now)
        const { timeout, explain } = attemptTimeout(o.timeout, remaining, o.budget)
        const exchange = o.transport
          .exchange(request, { timeout, maxBytes: 64 * 1024, oversize: "truncate" })
          .pipe(Effect.mapError((fault) => fail(n, fromFault(explain(fault)))))
        const reply = yield* o.gate === undefined
          ? exchange
          : // Waiting for a shared rate limit counts against the budget too: an attempt ends within it.
            // Held there past the budget is the limit's doing, not a failure: it stays due (Reporter.ts).
            o.gate(exchange).pipe(Effect.timeoutFail({ duration: remaining, onTimeout: () => heldBack(n) }))
        return yield* judge(reply, now)
      })
    // A notification already on the wire finishes when we are asked to stop, for a while: the
    // cycle lets each delivery finish, and records what it came to (Reporter.ts, `outbox`).
    return retryWithin(attempt, { ...o.retry, budget: o.budget, peer: `Target ${o.name}`, metric: o.name }, () => budgetSpent(n))
  }

  const send = (
    n: Notification,
    build: (nowMillis: number) => Effect.Effect<Request, TargetError>,
    judge: (reply: Reply, nowMillis: number) => Effect.Effect<Delivery, TargetError> = (reply, now) => judgeStatus(n, reply, now)
  ): Effect.Effect<Delivery, TargetError> => exchange(n, build, judge)

  return { send, exchange, fail, judgeStatus }
}

/** A signing failure, as a target's error: never a word of the key. */
export const signFailed = (failure: { readonly fail: (n: Notification, f: Failure) => TargetError }, n: Notification) =>
  failure.fail(n, { ...badResponse("could not sign the token"), reason: "Rejected" })

/** The target's signer, its key imported once; a secret that cannot be an HMAC key stops the start-up with its path. */
export const signerFor = (spec: TargetSpec, secret: Redacted.Redacted<string>) =>
  makeSigner(secret).pipe(Effect.mapError(() => new TargetStartError({ message: `${spec.path}.secret cannot be used as an HMAC key` })))

/** What an adapter sends with. */
export type Sender = Effect.Effect.Success<ReturnType<typeof makeSender>>
