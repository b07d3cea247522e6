import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { help, parse as parseCli } from "../src/Cli.js"

const HELP = help()

const parse = (args: ReadonlyArray<string>) => Effect.runSync(parseCli(args).pipe(Effect.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer))))
const problem = (args: ReadonlyArray<string>) => Either.getLeft(parse(args)).pipe(Option.getOrThrow)

describe("the command line", () => {
  it("reads every flag, in any order, with its value after a space or an equals sign", () => {
    const parsed = Either.getOrThrow(parse(["--log-level", "debug", "-c", "x.yaml", "--once", "--dry-run", "--log-format=json"]))
    expect(parsed).toMatchObject({ command: "run", configFile: "x.yaml", once: true, dryRun: true, logFormat: "json" })
    expect(parsed.logLevel).toEqual(Option.some(LogLevel.Debug))
    expect(Either.getOrThrow(parse(["--config=c.yaml"])).configFile).toBe("c.yaml")
  })

  it("defaults to config.yaml, the daemon, text logs and the level from the environment", () => {
    expect(Either.getOrThrow(parse([]))).toEqual({
      command: "run",
      configFile: "config.yaml",
      once: false,
      dryRun: false,
      connect: false,
      logLevel: Option.none(),
      logFormat: "text"
    })
  })

  it("validate: a command first on the line, with --connect; run-only flags refused", () => {
    expect(Either.getOrThrow(parse(["validate", "-c", "x.yaml", "--connect"]))).toMatchObject({ command: "validate", configFile: "x.yaml", connect: true })
    expect(Either.getOrThrow(parse(["validate"]))).toMatchObject({ command: "validate", configFile: "config.yaml", connect: false })
    expect(problem(["--connect"])).toBe("--connect only goes with validate (validate --connect)")
    expect(problem(["validate", "--once"])).toBe("--once does not go with validate")
    expect(problem(["validate", "--dry-run"])).toBe("--dry-run does not go with validate")
    expect(problem(["--once", "validate"])).toBe('unexpected argument "validate"')
    expect(HELP).toContain("validate [--config FILE] [--connect]")
  })

  it("says what is wrong with each kind of usage error", () => {
    expect(problem(["--config"])).toBe("--config needs a value (--config FILE)")
    expect(problem(["--config", "--once"])).toBe("--config needs a value (--config FILE)")
    expect(problem(["--config="])).toBe("--config needs a value (--config FILE)")
    expect(problem(["--once", "--once"])).toBe("--once was given more than once")
    expect(problem(["-c", "a.yaml", "--config", "b.yaml"])).toBe("--config was given more than once")
    expect(problem(["--bogus"])).toBe('unknown option "--bogus"')
    expect(problem(["-x"])).toBe('unknown option "-x"')
    expect(problem(["config.yaml"])).toBe('unexpected argument "config.yaml"')
    expect(problem(["--once=yes"])).toBe("--once takes no value")
    expect(problem(["--log-level", "loud"])).toBe('--log-level: expected one of trace, debug, info, warn, error, off; got "loud"')
    expect(problem(["--log-level", "x=debug"])).toMatch(/^--log-level: expected/)
    expect(problem(["--log-format", "xml"])).toBe('--log-format: expected text or json; got "xml"')
    // --help and --version do not hide what is wrong beside them.
    expect(problem(["--bogus", "--help"])).toBe('unknown option "--bogus"')
    expect(problem(["validate", "--once", "--version"])).toBe("--once does not go with validate")
    expect(problem(["--help=1"])).toBe("--help takes no value")
  })

  it("help: one line per option with its default, the exit codes and an example; nothing but plain text", () => {
    // eslint-disable-next-line no-control-regex
    expect(HELP).not.toMatch(/[\u0000-\u0008\u000b-\u001f]/)
    expect(HELP).toMatch(/^ {2}-c, --config FILE +configuration file; .*\(default: config\.yaml\)$/m)
    expect(HELP).toMatch(/^ {6}--log-level LEVEL +trace, debug, info, warn, error, off \(default: info/m)
    expect(HELP).toMatch(/^ {6}--log-format FORMAT +text or json \(default: text\)$/m)
    expect(HELP).toMatch(/^Exit codes:\n {2}0 /m)
    expect(HELP).toMatch(/^Example:\n {2}cloudmon-metrics-reporter --config /m)
    expect(HELP).not.toMatch(/wizard|completions|user-defined|optional\./i)
    expect(Either.getOrThrow(parse(["--help"])).command).toBe("help")
    expect(Either.getOrThrow(parse(["-V"])).command).toBe("version")
  })
})
