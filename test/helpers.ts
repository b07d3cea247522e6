import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import type { ReporterConfig, ServiceRef } from "../src/Config.js"
import { format } from "../src/Logging.js"

export const SECRET = "test-secret-that-is-long-enough-for-hs256!"

export const testConfig = (over: Partial<ReporterConfig> = {}): ReporterConfig => ({
  source: "test.yaml",
  convertor: { url: "http://convertor.test", timeout: Duration.seconds(10) },
  dashboard: { type: "generic", url: "http://dashboard.test", secret: Redacted.make(SECRET), timeout: Duration.seconds(10) },
  pollInterval: Duration.seconds(60),
  concurrency: 4,
  window: { from: Duration.minutes(5), to: Duration.minutes(2) },
  services: [{ name: "api", environment: "production" }],
  ...over
})

export const api: ServiceRef = { name: "api", environment: "production" }

export interface Recorded {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

export type Answer = Response | "refused" | "reset" | "hang"

/**
 * A fake HttpClient: `answer` decides per request. Records every request it
 * was given, so tests can count attempts and read what was sent.
 */
export const fakeHttp = (answer: (req: Recorded, n: number) => Answer) => {
  const requests: Array<Recorded> = []
  const client = HttpClient.make((request: HttpClientRequest.HttpClientRequest, url: URL) =>
    Effect.gen(function* () {
      const body =
        request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""
      const recorded: Recorded = { method: request.method, url, headers: request.headers, body }
      requests.push(recorded)
      const a = answer(recorded, requests.length)
      if (a === "hang") return yield* Effect.never
      if (a === "refused" || a === "reset") {
        const code = a === "refused" ? "ECONNREFUSED" : "ECONNRESET"
        return yield* new HttpClientError.RequestError({
          request,
          reason: "Transport",
          cause: Object.assign(new Error(`connect ${code}`), { code })
        })
      }
      return HttpClientResponse.fromWeb(request, a)
    })
  )
  return { requests, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } })

/** Collects formatted log lines (text format) for assertions. */
export const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make((entry) => void lines.push(format("text", entry)))
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

/** One turn of Node's event loop: lets real async work (jose's WebCrypto signing) complete. */
const macrotask = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/**
 * TestClock.adjust only fires sleeps that are already registered. Signing a
 * JWT is real async work, so a retry's sleep may not exist yet when the clock
 * moves. This moves the clock in small steps and, before each, waits (in real
 * time, briefly) until some fiber is asleep on the TestClock.
 */
export const advance = (total: Duration.DurationInput, step: Duration.DurationInput = "50 millis") =>
  Effect.gen(function* () {
    const steps = Math.ceil(Duration.toMillis(total) / Duration.toMillis(step))
    for (let i = 0; i < steps; i++) {
      for (let spin = 0; spin < 50; spin++) {
        if ((yield* TestClock.sleeps()).length > 0) break
        yield* macrotask
      }
      yield* TestClock.adjust(step)
    }
  })
