/**
 * The generic status dashboard (docs/protocols.md §2): POST /api/incidents
 * with an HS256 JWT whose claims repeat the body.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { attemptTimeout, budgetHint } from "../Budget.js"
import { type Adapter, Dashboard, DashboardError } from "../Dashboard.js"
import { isoSeconds, type Notification, safeUrl } from "../Domain.js"
import { makeSigner } from "../Jwt.js"
import { badResponse, fromFault, fromReply, type PeerFailure } from "../PeerError.js"
import { retryWithin } from "../Retry.js"
import { finishInFlight } from "../Shutdown.js"
import { HttpFault, Transport } from "../Transport.js"

/** Up to 3 retries (4 attempts), 1 s, 2 s, 4 s apart (jittered), within the phase budget. */
export const RETRY = { base: Duration.seconds(1), retries: 3 } as const

/** Any 2xx is delivered whatever its body; of another answer, the start is enough for a message. */
const LIMITS = { maxBytes: 64 * 1024, oversize: "truncate" } as const

export const make: Adapter = (settings, budget) =>
  Layer.effect(
    Dashboard,
    Effect.gen(function* () {
      const transport = yield* Transport
      const signer = yield* makeSigner(settings.secret)
      const endpoint = `${settings.url}/api/incidents`
      const target = safeUrl(settings.url)
      const fail = (n: Notification, failure: PeerFailure<DashboardError["reason"]>) =>
        new DashboardError({ peer: target, service: n.service, ...failure })

      const bodyOf = (n: Notification) => ({
        service: n.service.name,
        environment: n.service.environment,
        status: n.status,
        message: n.message,
        timestamp: isoSeconds(n.timestamp.getTime())
      })

      const sign = (n: Notification, now: number) =>
        signer
          .sign({ service: n.service.name, environment: n.service.environment, status: n.status, timestamp: Math.floor(n.timestamp.getTime() / 1000) }, now)
          .pipe(Effect.mapError(() => fail(n, { ...badResponse("could not sign the token"), reason: "Rejected" })))

      const attempt = (n: Notification, remaining: Duration.Duration) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const token = yield* sign(n, now)
          const { timeout, detail } = attemptTimeout({ key: "status_dashboard.timeout", timeout: settings.timeout }, remaining, budget)
          const request = {
            method: "POST",
            url: endpoint,
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify(bodyOf(n))
          } as const
          const reply = yield* transport
            .exchange(request, { ...LIMITS, timeout })
            .pipe(Effect.mapError((fault) => fail(n, fromFault(fault.kind === "Timeout" ? new HttpFault({ kind: "Timeout", detail }) : fault))))
          if (reply.status >= 200 && reply.status < 300) return
          const failure = fromReply(reply, "status_dashboard.url", now)
          const auth = reply.status === 401 || reply.status === 403
          return yield* fail(n, { ...failure, reason: auth ? "AuthFailed" : failure.reason })
        }).pipe(
          // A notification already on the wire finishes even when we are asked to stop;
          // the exchange's own timeout still bounds it.
          finishInFlight
        )

      const notify = (n: Notification) =>
        retryWithin((remaining) => attempt(n, remaining), { ...RETRY, budget, peer: "Dashboard" }, () =>
          fail(n, { ...badResponse(`not delivered before ${budgetHint(budget)}`), reason: "Timeout" })
        )

      // The token is signed as for real (a bad key shows now), then dropped.
      const rehearse = (n: Notification) =>
        Clock.currentTimeMillis.pipe(
          Effect.flatMap((now) => sign(n, now)),
          Effect.as(`POST ${safeUrl(endpoint)} ${JSON.stringify(bodyOf(n))}`)
        )

      return { target: `generic dashboard at ${target}`, notify, rehearse }
    })
  )
