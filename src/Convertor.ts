/**
 * The CloudMon convertor: one health reading per (service, environment),
 * asked for a window that ends a little in the past, retried within the
 * phase budget. Convertor/Reading.ts reads its answers.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { attemptTimeout, budgetHint, phaseBudget } from "./Budget.js"
import { AppConfig } from "./Config.js"
import { type MaintenanceWindow, readHealth, readMaintenances } from "./Convertor/Reading.js"
import { isoSeconds, type Reading, safeUrl, type ServiceRef } from "./Domain.js"
import { badResponse, fromFault, fromReply, type PeerErrorFields, type PeerFailure, who } from "./PeerError.js"
import { retryWithin } from "./Retry.js"
import { type Request, Transport } from "./Transport.js"

type Reason = PeerFailure["reason"]

const MESSAGES: { readonly [R in Reason]: (e: ConvertorError) => string } = {
  Unavailable: (e) =>
    e.detail === "connection refused"
      ? `Connection refused to convertor at ${e.peer} (while polling ${who(e.service)}): is it running, and is convertor.url right?`
      : `Convertor at ${e.peer} unreachable while polling ${who(e.service)}: ${e.detail}`,
  Timeout: (e) => `Convertor at ${e.peer} timed out while polling ${who(e.service)}: ${e.detail}`,
  Rejected: (e) =>
    e.status === 404
      ? `Convertor at ${e.peer} does not know ${who(e.service)} (404${e.detail ? `: ${e.detail}` : ""}): check reporter.services and convertor.url (the upstream convertor needs the /api prefix)`
      : `Convertor at ${e.peer} refused the request for ${who(e.service)} (${e.status ?? "?"}${e.detail ? `: ${e.detail}` : ""})`,
  BadResponse: (e) => `Convertor at ${e.peer} sent an unreadable answer for ${who(e.service)}: ${e.detail}`
}

export class ConvertorError extends Data.TaggedError("ConvertorError")<PeerErrorFields<Reason>> {
  override get message(): string {
    return MESSAGES[this.reason](this)
  }
}

/** A 50 MB answer is a fault, not a health reading. */
const MAX_BODY_BYTES = 1024 * 1024

const ACCEPT_JSON = { accept: "application/json" } as const

/** Named so tests and the README can refer to it. */
export const CONVERTOR_RETRY = { base: Duration.millis(500), retries: 4 } as const

export class Convertor extends Effect.Service<Convertor>()("reporter/Convertor", {
  effect: Effect.gen(function* () {
    const config = yield* AppConfig
    const transport = yield* Transport
    const url = safeUrl(config.convertor.url)
    const budget = phaseBudget(config.reporter.poll_interval)
    const own = { key: "convertor.timeout", timeout: config.convertor.timeout }

    /** One request and its answer read; plain calls between the exchange and the result (the hot path). */
    const attempt = (service: ServiceRef, request: Request, windowStart: number, remaining: Duration.Duration, clock: Clock.Clock) => {
      const fail = (failure: PeerFailure) => new ConvertorError({ service, peer: url, ...failure })
      const { timeout, explain } = attemptTimeout(own, remaining, budget)
      return Effect.matchEffect(transport.exchange(request, { timeout, maxBytes: MAX_BODY_BYTES }), {
        onFailure: (fault) => Effect.fail(fail(fromFault(explain(fault)))),
        onSuccess: (reply): Effect.Effect<Reading, ConvertorError> => {
          const now = clock.unsafeCurrentTimeMillis()
          if (reply.status !== 200) return Effect.fail(fail(fromReply(reply, "convertor.url", now)))
          let json: unknown
          try {
            json = JSON.parse(reply.body)
          } catch {
            return Effect.fail(fail(badResponse("the body is not valid JSON")))
          }
          const read = readHealth(json, { now, windowStart })
          if (Either.isLeft(read)) return Effect.fail(fail(badResponse(read.left)))
          return read.right._tag === "Current" && read.right.readAsMillis
            ? Effect.as(Effect.logDebug("The convertor's timestamp only makes sense in milliseconds: read as such"), read.right)
            : Effect.succeed(read.right)
        }
      })
    }

    /** The request for one service's window, which ends `window.to` before now. */
    const requestFor = (service: ServiceRef, now: number) => {
      const windowStart = now - Duration.toMillis(config.reporter.window.from)
      const from = encodeURIComponent(isoSeconds(windowStart))
      const to = encodeURIComponent(isoSeconds(now - Duration.toMillis(config.reporter.window.to)))
      const request: Request = { method: "GET", url: `${queryOf(service)}&from=${from}&to=${to}`, headers: ACCEPT_JSON }
      return { request, windowStart }
    }
    /** The URL up to a service's window, built once per service. */
    const queries = new WeakMap<ServiceRef, string>()
    const queryOf = (service: ServiceRef) => {
      let query = queries.get(service)
      if (query === undefined) {
        query = `${config.convertor.url}/v1/health?${new URLSearchParams({ service: service.name, environment: service.environment })}`
        queries.set(service, query)
      }
      return query
    }

    const health = (service: ServiceRef): Effect.Effect<Reading, ConvertorError> =>
      Effect.clockWith((clock) => {
        const { request, windowStart } = requestFor(service, clock.unsafeCurrentTimeMillis())
        return retryWithin(
          (remaining) => attempt(service, request, windowStart, remaining, clock),
          { ...CONVERTOR_RETRY, budget, peer: "Convertor", metric: "convertor" },
          () => new ConvertorError({ service, peer: url, ...badResponse(`no answer before ${budgetHint(budget)}`), reason: "Timeout" })
        )
      })

    /** `validate --connect`: one request for `service`, no retries. */
    const probe = (service: ServiceRef): Effect.Effect<Reading, ConvertorError> =>
      Effect.clockWith((clock) => {
        const { request, windowStart } = requestFor(service, clock.unsafeCurrentTimeMillis())
        return attempt(service, request, windowStart, config.convertor.timeout, clock)
      })

    /** The convertor's planned maintenance windows over the next poll interval (docs/protocols.md §1), one request, no retries. */
    const maintenances: Effect.Effect<ReadonlyArray<MaintenanceWindow>, string> = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const query = new URLSearchParams({ from: isoSeconds(now), to: isoSeconds(now + Duration.toMillis(config.reporter.poll_interval)) })
      const reply = yield* transport
        .exchange({ method: "GET", url: `${config.convertor.url}/v1/maintenances?${query}`, headers: ACCEPT_JSON }, { timeout: config.convertor.timeout, maxBytes: MAX_BODY_BYTES })
        .pipe(Effect.mapError((fault) => fault.detail))
      if (reply.status !== 200) return yield* Effect.fail(`answered ${reply.status}`)
      const windows = readMaintenances(reply.body)
      return yield* Either.isLeft(windows) ? Effect.fail(windows.left) : Effect.succeed(windows.right)
    })

    return { health, probe, maintenances } as const
  })
}) {}
