/**
 * The CloudMon convertor: one health reading per (service, environment).
 * Reads the four response shapes of protocols.md §1 into one `Health` value.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { AppConfig, safeUrl, type ServiceRef } from "./Config.js"
import { faultOutcome, type HttpFault, type Request, statusOutcome, Transport } from "./Http.js"
import { phaseBudget, retryWithin } from "./Retry.js"

// ---------------------------------------------------------------------------
// Domain
// ---------------------------------------------------------------------------

export interface Health {
  /** The raw value: 0 healthy, 1 degraded, 2 outage. Passed on, never reinterpreted. */
  readonly status: number
  /** When the convertor measured it. */
  readonly timestamp: Date
  /** Why, where the convertor says. */
  readonly matchedExpression?: string
  readonly triggeredMetrics: ReadonlyArray<string>
  readonly region?: string
}

export const statusLabel = (status: number): string =>
  status === 0 ? "healthy" : status === 1 ? "degraded" : status === 2 ? "outage" : "unknown"

export class ConvertorError extends Data.TaggedError("ConvertorError")<{
  readonly service: ServiceRef
  readonly reason: "Unavailable" | "Timeout" | "Rejected" | "BadResponse"
  readonly url: string
  readonly detail: string
  readonly status?: number
  readonly retryable: boolean
  readonly retryAfter: Option.Option<Duration.Duration>
}> {
  override get message(): string {
    const who = `${this.service.name} in ${this.service.environment}`
    switch (this.reason) {
      case "Unavailable":
        return this.detail === "connection refused"
          ? `Connection refused to convertor at ${this.url} (while polling ${who}): is it running, and is convertor.url right?`
          : `Convertor at ${this.url} unreachable while polling ${who}: ${this.detail}`
      case "Timeout":
        return `Convertor at ${this.url} timed out while polling ${who}: ${this.detail} (raise convertor.timeout if it is just slow)`
      case "Rejected":
        return this.status === 404
          ? `Convertor at ${this.url} does not know ${who} (404${this.detail ? `: ${this.detail}` : ""}): check reporter.services and convertor.url (the upstream convertor needs the /api prefix)`
          : `Convertor at ${this.url} refused the request for ${who} (${this.status ?? "?"}${this.detail ? `: ${this.detail}` : ""})`
      case "BadResponse":
        return `Convertor at ${this.url} sent an unreadable answer for ${who}: ${this.detail}`
    }
  }
}

// ---------------------------------------------------------------------------
// Wire shapes (protocols.md §1)
// ---------------------------------------------------------------------------

const Timestamp = Schema.Union(Schema.Number, Schema.String)
const Status = Schema.Number.pipe(Schema.int(), Schema.nonNegative())
const Pair = Schema.Tuple(Timestamp, Status)

const TriggeredMetric = Schema.Struct({ name: Schema.String })

const DatapointsShape = Schema.Struct({
  metrics: Schema.Array(
    Schema.Struct({
      timestamp: Timestamp,
      weight: Status,
      matched_expression: Schema.optional(Schema.NullOr(Schema.String)),
      triggered_metric_details: Schema.optional(Schema.NullOr(Schema.Array(TriggeredMetric)))
    })
  )
})

const TuplesShape = Schema.Struct({ metrics: Schema.Array(Pair) })

const RegionsShape = Schema.Struct({
  metrics: Schema.Array(Schema.Struct({ region: Schema.String, datapoints: Schema.Array(Pair) }))
})

const FlatShape = Schema.Struct({ status: Status, timestamp: Schema.optional(Timestamp) })

const HealthResponse = Schema.Union(DatapointsShape, TuplesShape, RegionsShape, FlatShape)
const decodeResponse = Schema.decodeUnknownEither(HealthResponse)

/**
 * Unix seconds (or milliseconds, for convertors that send those) or an ISO
 * string; none at all (the flat shape may omit it) is the time of reading.
 * Anything else is not a time: a bad answer, not a reason to invent one.
 */
const toDate = (t: string | number | undefined, now: number): Either.Either<Date, string> => {
  if (t === undefined) return Either.right(new Date(now))
  const date = typeof t === "number" ? new Date(t > 1e11 ? t : t * 1000) : new Date(Date.parse(t))
  return Number.isNaN(date.getTime()) ? Either.left(`the timestamp ${JSON.stringify(t)} is not a valid time`) : Either.right(date)
}

type Reading = Omit<Health, "timestamp"> & { readonly at: string | number | undefined }

/** The one reading a body stands for, before its time is checked; None is "no data". */
const reading = (value: typeof HealthResponse.Type): Option.Option<Reading> => {
  if ("status" in value) return Option.some({ status: value.status, at: value.timestamp, triggeredMetrics: [] })
  const metrics = value.metrics
  const last = metrics[metrics.length - 1]
  if (last === undefined) return Option.none()
  if (Array.isArray(last)) {
    const [at, status] = last as readonly [string | number, number]
    return Option.some({ status, at, triggeredMetrics: [] })
  }
  if ("weight" in last) {
    return Option.some({
      status: last.weight,
      at: last.timestamp,
      ...(last.matched_expression ? { matchedExpression: last.matched_expression } : {}),
      triggeredMetrics: (last.triggered_metric_details ?? []).map((m) => m.name)
    })
  }
  // Regions: the worst last value across regions, naming the region that caused it.
  let worst: Reading | undefined
  for (const region of metrics as typeof RegionsShape.Type.metrics) {
    const point = region.datapoints[region.datapoints.length - 1]
    if (point !== undefined && (worst === undefined || point[1] > worst.status)) {
      worst = { status: point[1], at: point[0], triggeredMetrics: [], region: region.region }
    }
  }
  return Option.fromNullable(worst)
}

/** None means "no data": neither healthy nor degraded. */
export const readHealth = (body: unknown, now: number): Either.Either<Option.Option<Health>, string> => {
  const decoded = decodeResponse(body)
  if (Either.isLeft(decoded)) {
    return Either.left("not one of the known health shapes (datapoints, tuples, regions, flat)")
  }
  const found = reading(decoded.right)
  if (Option.isNone(found)) return Either.right(Option.none())
  const { at, ...rest } = found.value
  return Either.map(toDate(at, now), (timestamp) => Option.some({ ...rest, timestamp }))
}

// ---------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------

/** A 50 MB answer is a fault, not a health reading. */
const MAX_BODY_BYTES = 1024 * 1024

/** Named so tests and the README can refer to it. */
export const CONVERTOR_RETRY = { base: Duration.millis(500), retries: 4 } as const

export class Convertor extends Effect.Service<Convertor>()("reporter/Convertor", {
  effect: Effect.gen(function* () {
    const config = yield* AppConfig
    const transport = yield* Transport
    const url = safeUrl(config.convertor.url)
    const budget = phaseBudget(config.pollInterval)
    const limits = { timeout: Duration.min(config.convertor.timeout, budget), maxBytes: MAX_BODY_BYTES }

    const fromFault = (service: ServiceRef) => (fault: HttpFault) =>
      new ConvertorError({ service, ...faultOutcome(fault), url, detail: fault.detail, retryAfter: Option.none() })

    const attempt = (service: ServiceRef, request: Request, remaining: Duration.Duration) =>
      Effect.gen(function* () {
        const reply = yield* transport
          .exchange(request, { ...limits, timeout: Duration.min(limits.timeout, remaining) })
          .pipe(Effect.mapError(fromFault(service)))
        const now = yield* Clock.currentTimeMillis
        if (reply.status !== 200) {
          return yield* new ConvertorError({ service, url, ...statusOutcome(reply, "convertor.url", now) })
        }
        const bad = (detail: string) =>
          new ConvertorError({ service, reason: "BadResponse", url, detail, retryable: false, retryAfter: Option.none() })
        const json = yield* Effect.try({ try: () => JSON.parse(reply.body) as unknown, catch: () => bad("the body is not valid JSON") })
        return yield* Either.match(readHealth(json, now), {
          onLeft: (detail) => Effect.fail(bad(detail)),
          onRight: Effect.succeed
        })
      })

    const health = (service: ServiceRef): Effect.Effect<Option.Option<Health>, ConvertorError> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const query = new URLSearchParams({
          service: service.name,
          environment: service.environment,
          from: isoSeconds(now - Duration.toMillis(config.window.from)),
          to: isoSeconds(now - Duration.toMillis(config.window.to))
        })
        const request: Request = {
          method: "GET",
          url: `${config.convertor.url}/v1/health?${query}`,
          headers: { accept: "application/json" }
        }
        return yield* retryWithin(
          (remaining) => attempt(service, request, remaining),
          { ...CONVERTOR_RETRY, budget },
          () =>
            new ConvertorError({
              service,
              reason: "Timeout",
              url,
              detail: `no answer within ${Duration.format(budget)} (45% of the poll interval)`,
              retryable: false,
              retryAfter: Option.none()
            })
        )
      })

    return { health } as const
  })
}) {}

/** `2024-01-20T12:00:00Z`: what protocols.md shows, without milliseconds. */
export const isoSeconds = (millis: number): string => new Date(Math.floor(millis / 1000) * 1000).toISOString().replace(".000Z", "Z")
