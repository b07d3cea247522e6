/**
 * The convertor's answers (docs/protocols.md §1): the four response shapes,
 * the timestamps they carry, and the one reading they stand for.
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { Health, Reading } from "../Domain.js"

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

/** As seconds, 1e11 is the year 5138; as milliseconds, 1973. Past 1e14 even milliseconds are beyond 5138. */
const MILLIS_FROM = 1e11
const MILLIS_UNTIL = 1e14
const ISO_WITH_ZONE = /^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:?\d\d)$/

interface Instant {
  readonly millis: number
  /** A number that only made sense as milliseconds. */
  readonly readAsMillis: boolean
}

/**
 * Unix seconds (milliseconds where only that reading makes sense), as a
 * number or a string of digits, or ISO 8601 with a zone. Anything else is
 * not a time we may report: a bad answer, never a guess.
 */
export const toInstant = (t: string | number): Either.Either<Instant, string> => {
  const fromNumber = (n: number): Either.Either<Instant, string> =>
    !Number.isFinite(n) || n <= 0 || n >= MILLIS_UNTIL
      ? Either.left(`the timestamp ${JSON.stringify(t)} is not a plausible Unix time`)
      : Either.right(n < MILLIS_FROM ? { millis: n * 1000, readAsMillis: false } : { millis: n, readAsMillis: true })
  if (typeof t === "number") return fromNumber(t)
  if (/^\d+$/.test(t)) return fromNumber(Number(t))
  if (ISO_WITH_ZONE.test(t)) {
    const normal = t.replace(/^(.{10})[t ]/i, "$1T").replace(/z$/, "Z").replace(/([+-]\d\d)(\d\d)$/, "$1:$2")
    const millis = Date.parse(normal)
    if (!Number.isNaN(millis)) return Either.right({ millis, readAsMillis: false })
  }
  return Either.left(`the timestamp ${JSON.stringify(t)} is neither Unix seconds nor an ISO 8601 time with a zone`)
}

/** How far ahead of our clock a point may be before it is not believed. */
export const FUTURE_TOLERANCE = Duration.minutes(5)

interface Point {
  readonly at: string | number | undefined
  readonly status: number
  readonly extra: Pick<Health, "matchedExpression" | "triggeredMetrics" | "region">
}

const NONE: Point["extra"] = { triggeredMetrics: [] }

/** Every series of points a body holds (one, or one per region). */
const series = (value: typeof HealthResponse.Type): ReadonlyArray<ReadonlyArray<Point>> => {
  if ("status" in value) return [[{ at: value.timestamp, status: value.status, extra: NONE }]]
  return [
    value.metrics.flatMap((m): ReadonlyArray<Point> => {
      if (Array.isArray(m)) return [{ at: (m as typeof Pair.Type)[0], status: (m as typeof Pair.Type)[1], extra: NONE }]
      if ("weight" in m) {
        return [
          {
            at: m.timestamp,
            status: m.weight,
            extra: {
              ...(m.matched_expression ? { matchedExpression: m.matched_expression } : {}),
              triggeredMetrics: (m.triggered_metric_details ?? []).map((d) => d.name)
            }
          }
        ]
      }
      return []
    }),
    ...value.metrics.flatMap((m) =>
      !Array.isArray(m) && "region" in m
        ? [m.datapoints.map((p): Point => ({ at: p[0], status: p[1], extra: { triggeredMetrics: [], region: m.region } }))]
        : []
    )
  ].filter((points) => points.length > 0)
}

/**
 * The newest point of each series, by its timestamp (not its place in the
 * array); points outside [window start, now + 5 min] are stale. Of the current
 * ones, the worst (naming its region); if none is current, the reading is stale.
 */
export const readHealth = (
  body: unknown,
  at: { readonly now: number; readonly windowStart: number }
): Either.Either<Reading, string> => {
  const decoded = decodeResponse(body)
  if (Either.isLeft(decoded)) {
    return Either.left("not one of the known health shapes (datapoints, tuples, regions, flat)")
  }
  const newest: Array<{ readonly health: Health; readonly readAsMillis: boolean }> = []
  for (const points of series(decoded.right)) {
    let best: { readonly health: Health; readonly readAsMillis: boolean } | undefined
    for (const point of points) {
      const instant = point.at === undefined ? Either.right({ millis: at.now, readAsMillis: false }) : toInstant(point.at)
      if (Either.isLeft(instant)) return Either.left(instant.left)
      if (best === undefined || instant.right.millis >= best.health.timestamp.getTime()) {
        best = { health: { status: point.status, timestamp: new Date(instant.right.millis), ...point.extra }, readAsMillis: instant.right.readAsMillis }
      }
    }
    if (best !== undefined) newest.push(best)
  }
  if (newest.length === 0) return Either.right({ _tag: "NoData" })
  const latest = at.now + Duration.toMillis(FUTURE_TOLERANCE)
  const current = newest.filter((n) => n.health.timestamp.getTime() >= at.windowStart && n.health.timestamp.getTime() <= latest)
  if (current.length === 0) {
    const { health } = newest.reduce((a, b) => (b.health.timestamp > a.health.timestamp ? b : a))
    const when = health.timestamp.toISOString()
    const why =
      health.timestamp.getTime() > latest
        ? `its newest point (${when}) is more than ${Duration.format(FUTURE_TOLERANCE)} in the future`
        : `its newest point (${when}) is older than the query window (from ${new Date(at.windowStart).toISOString()})`
    return Either.right({ _tag: "Stale", health, why })
  }
  const worst = current.reduce((a, b) => (b.health.status > a.health.status ? b : a))
  return Either.right({ _tag: "Current", ...worst })
}

/** A planned maintenance window as the convertor gives it; `region` narrows it to readings from that region. */
export interface MaintenanceWindow {
  readonly service: string
  readonly region?: string
  readonly start: number
  readonly end: number
}

const MaintenancesShape = Schema.parseJson(
  Schema.Array(
    Schema.Struct({ service: Schema.String, region: Schema.optional(Schema.NullOr(Schema.String)), start: Timestamp, end: Timestamp })
  )
)

/** `[{service, region, start, end, reason}]`, times as the health answers carry them. */
export const readMaintenances = (body: string): Either.Either<ReadonlyArray<MaintenanceWindow>, string> => {
  const decoded = Schema.decodeUnknownEither(MaintenancesShape)(body)
  if (Either.isLeft(decoded)) return Either.left("not a list of {service, region, start, end}")
  const windows: Array<MaintenanceWindow> = []
  for (const w of decoded.right) {
    const start = toInstant(w.start)
    const end = toInstant(w.end)
    if (Either.isLeft(start)) return Either.left(start.left)
    if (Either.isLeft(end)) return Either.left(end.left)
    windows.push({ service: w.service, ...(w.region ? { region: w.region } : {}), start: start.right.millis, end: end.right.millis })
  }
  return Either.right(windows)
}
