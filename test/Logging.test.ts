import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as HashMap from "effect/HashMap"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Cause from "effect/Cause"
import { takeLogLevel } from "../src/Cli.js"
import { format, levelFromEnv, parseLevel } from "../src/Logging.js"

describe("log levels", () => {
  it("reads LOG_LEVEL first, then RUST_LOG, else info", () => {
    expect(levelFromEnv({})).toBe(LogLevel.Info)
    expect(levelFromEnv({ RUST_LOG: "debug" })).toBe(LogLevel.Debug)
    expect(levelFromEnv({ LOG_LEVEL: "warn", RUST_LOG: "debug" })).toBe(LogLevel.Warning)
    expect(levelFromEnv({ LOG_LEVEL: "loud", RUST_LOG: "error" })).toBe(LogLevel.Error)
  })

  it("understands RUST_LOG directives: ours first, then a bare level, then the first module's", () => {
    expect(parseLevel("cloudmon_metrics_reporter=debug,hyper=info")).toEqual(Option.some(LogLevel.Debug))
    expect(parseLevel("warn,cloudmon_metrics_reporter=debug")).toEqual(Option.some(LogLevel.Debug))
    expect(parseLevel("hyper=error,info")).toEqual(Option.some(LogLevel.Info))
    expect(parseLevel("hyper=error,tokio=trace")).toEqual(Option.some(LogLevel.Error))
    expect(parseLevel("TRACE")).toEqual(Option.some(LogLevel.Trace))
    expect(parseLevel("nonsense")).toEqual(Option.none())
  })

  it("takes --log-level out of the arguments wherever it stands, and refuses a bad value", () => {
    const taken = Either.getOrThrow(takeLogLevel(["node", "main.js", "--config", "c.yaml", "--log-level", "debug", "--once"]))
    expect(taken.argv).toEqual(["node", "main.js", "--config", "c.yaml", "--once"])
    expect(taken.level).toEqual(Option.some(LogLevel.Debug))
    expect(Either.getOrThrow(takeLogLevel(["node", "main.js", "--log-level=warn"])).level).toEqual(Option.some(LogLevel.Warning))
    expect(Either.getLeft(takeLogLevel(["node", "main.js", "--log-level", "loud"]))).toEqual(
      Option.some('--log-level: expected one of trace, debug, info, warn, error, off; got "loud"')
    )
    expect(Either.isLeft(takeLogLevel(["node", "main.js", "--log-level"]))).toBe(true)
  })
})

describe("log lines", () => {
  const entry = {
    date: new Date("2024-01-20T12:00:00Z"),
    logLevel: LogLevel.Info,
    message: ["Health status: 1 (degraded)"],
    annotations: HashMap.make(["region", "eu de"], ["environment", "production"], ["service", "api"]),
    cause: Cause.empty
  }

  it("text: time, level, message, then service and environment first, quoting values with spaces", () => {
    expect(format("text", entry)).toBe(
      '2024-01-20T12:00:00.000Z INFO  Health status: 1 (degraded) service=api environment=production region="eu de"'
    )
  })

  it("json: one object a line with the annotations as fields", () => {
    expect(JSON.parse(format("json", entry))).toEqual({
      time: "2024-01-20T12:00:00.000Z",
      level: "info",
      message: "Health status: 1 (degraded)",
      service: "api",
      environment: "production",
      region: "eu de"
    })
  })
})
