import { describe, expect, it } from "@effect/vitest"
import * as HashMap from "effect/HashMap"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Cause from "effect/Cause"
import { PassThrough } from "node:stream"
import { format, levelFromEnv, parseLevel, stderrWriter } from "../src/Logging.js"

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
      '2024-01-20T12:00:00.000Z INFO Health status: 1 (degraded) service=api environment=production region="eu de"'
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

describe("log lines cannot be forged", () => {
  const hostile = {
    date: new Date("2024-01-20T12:00:00Z"),
    logLevel: LogLevel.Info,
    message: ["Health status: 1\n2024-01-20T12:00:01.000Z ERROR forged \u001b]0;owned\u0007"],
    annotations: HashMap.make(["service", "api\n2024 ERROR forged"], ["region", "eu\u001b[31mred\u009b"], ["matched_expression", 'a "b"\u2028c']),
    cause: Cause.empty
  }

  it("text: newlines, ESC/OSC and other C0/C1 controls in the message and every value are shown visibly", () => {
    const line = format("text", hostile)
    expect(line.split("\n")).toHaveLength(1)
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/)
    expect(line).toBe(
      '2024-01-20T12:00:00.000Z INFO Health status: 1\\n2024-01-20T12:00:01.000Z ERROR forged \\x1b]0;owned\\x07 ' +
        'service="api\\n2024 ERROR forged" matched_expression="a \\"b\\"\\u2028c" region=eu\\x1b[31mred\\x9b'
    )
  })

  it("json: the same values escaped by JSON, one object on one line, read back unchanged", () => {
    const line = format("json", hostile)
    expect(line.split("\n")).toHaveLength(1)
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\u0000-\u001f]/)
    const parsed = JSON.parse(line) as Record<string, string>
    expect(parsed["service"]).toBe("api\n2024 ERROR forged")
    expect(parsed["message"]).toContain("\u001b]0;owned")
  })

  it("a writer whose stream has gone away drops lines instead of throwing or ending the process", () => {
    const stream = new PassThrough()
    const write = stderrWriter(stream)
    write("first")
    write("second")
    write.flush()
    expect(stream.read()?.toString()).toBe("first\nsecond\n")
    stream.destroy(Object.assign(new Error("write EPIPE"), { code: "EPIPE" }))
    expect(() => (write("after the reader left"), write.flush())).not.toThrow()
    const throwing = new PassThrough()
    throwing.write = () => {
      throw Object.assign(new Error("EAGAIN"), { code: "EAGAIN" })
    }
    const busy = stderrWriter(throwing)
    expect(() => (busy("busy"), busy.flush())).not.toThrow()
  })
})
