/**
 * The generic status dashboard (docs/protocols.md §2): POST /api/incidents with an
 * HS256 JWT whose claims repeat the body.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { SignJWT } from "jose"
import { AppConfig, safeUrl } from "../Config.js"
import { DASHBOARD_RETRY, Dashboard, DashboardError, type Notification } from "../Dashboard.js"
import { isoSeconds } from "../Convertor.js"
import { faultOutcome, finishInFlight, HttpFault, statusOutcome, Transport } from "../Http.js"
import { attemptTimeout, budgetHint, phaseBudget, retryWithin } from "../Retry.js"

/** Long enough for clock skew between us and the dashboard, short enough to limit replay. */
const TOKEN_LIFETIME_SECONDS = 300
const MAX_BODY_BYTES = 64 * 1024

export const layer: Layer.Layer<Dashboard, never, AppConfig | Transport> =
  Layer.effect(
    Dashboard,
    Effect.gen(function* () {
      const config = yield* AppConfig
      const transport = yield* Transport
      const endpoint = `${config.dashboard.url}/api/incidents`
      const target = safeUrl(config.dashboard.url)
      const budget = phaseBudget(config.pollInterval)
      // Any 2xx is delivered whatever its body; of another answer, the start is enough for a message.
      const limits = { maxBytes: MAX_BODY_BYTES, oversize: "truncate" as const }

      const sign = (n: Notification, nowMillis: number) =>
        Effect.tryPromise({
          try: () => {
            const now = Math.floor(nowMillis / 1000)
            return new SignJWT({
              service: n.service.name,
              environment: n.service.environment,
              status: n.status,
              timestamp: Math.floor(n.timestamp.getTime() / 1000)
            })
              .setProtectedHeader({ alg: "HS256", typ: "JWT" })
              .setIssuedAt(now)
              .setExpirationTime(now + TOKEN_LIFETIME_SECONDS)
              // The secret leaves its Redacted wrapper here, and only here.
              .sign(new TextEncoder().encode(Redacted.value(config.dashboard.secret)))
          },
          // jose's messages never contain the key; still, say nothing of it.
          catch: () =>
            new DashboardError({
              target,
              service: n.service,
              reason: "Rejected",
              detail: "could not sign the token",
              retryable: false,
              retryAfter: Option.none()
            })
        })

      const fromFault = (n: Notification) => (fault: HttpFault) =>
        new DashboardError({ target, service: n.service, ...faultOutcome(fault), detail: fault.detail, retryAfter: Option.none() })

      const attempt = (n: Notification, body: unknown, remaining: Duration.Duration) =>
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const token = yield* sign(n, now)
          const { timeout, detail } = attemptTimeout({ key: "status_dashboard.timeout", timeout: config.dashboard.timeout }, remaining, budget)
          const reply = yield* transport
            .exchange(
              {
                method: "POST",
                url: endpoint,
                headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
                body: JSON.stringify(body)
              },
              { ...limits, timeout }
            )
            .pipe(Effect.mapError((fault) => fromFault(n)(fault.kind === "Timeout" ? new HttpFault({ kind: "Timeout", detail }) : fault)))
          if (reply.status >= 200 && reply.status < 300) return
          const outcome = statusOutcome(reply, "status_dashboard.url", now)
          const auth = reply.status === 401 || reply.status === 403
          return yield* new DashboardError({ target, service: n.service, ...outcome, reason: auth ? "AuthFailed" : outcome.reason })
        }).pipe(
          // A notification already on the wire finishes even when we are asked to stop;
          // the exchange's own timeout still bounds it.
          finishInFlight
        )

      const bodyOf = (n: Notification) => ({
        service: n.service.name,
        environment: n.service.environment,
        status: n.status,
        message: n.message,
        timestamp: isoSeconds(n.timestamp.getTime())
      })

      const notify = (n: Notification) =>
        retryWithin((remaining) => attempt(n, bodyOf(n), remaining), { ...DASHBOARD_RETRY, budget, peer: "Dashboard" }, () =>
          new DashboardError({
            target,
            service: n.service,
            reason: "Timeout",
            detail: `not delivered before ${budgetHint(budget)}`,
            retryable: false,
            retryAfter: Option.none()
          })
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
