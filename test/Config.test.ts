import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { envOverrides, load, unknownKeys } from "../src/Config.js"

const SECRET = "a-secret-of-more-than-thirty-two-bytes-0123"
const VALID = `
convertor:
  url: http://127.0.0.1:3005/api
status_dashboard:
  url: http://127.0.0.1:3000
  secret: ${SECRET}
reporter:
  poll_interval: 30
  services:
    - name: api
      environment: production
`

const setup = (main: string | undefined, fragments: Record<string, string> = {}, extra: Record<string, string> = {}) => {
  const dir = mkdtempSync(join(tmpdir(), "cmr-config-"))
  const file = join(dir, "config.yaml")
  if (main !== undefined) writeFileSync(file, main)
  if (Object.keys(fragments).length > 0) mkdirSync(join(dir, "conf.d"))
  for (const [name, text] of Object.entries(fragments)) writeFileSync(join(dir, "conf.d", name), text)
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text)
  return { dir, file }
}

const FsLive = Layer.merge(NodeFileSystem.layer, NodePath.layer)
const loadWith = (file: string, env: Record<string, string> = {}) => load(file, env).pipe(Effect.either, Effect.provide(FsLive))

/** The single problem of a load that must fail. */
const problemsOf = (file: string, env: Record<string, string> = {}) =>
  loadWith(file, env).pipe(
    Effect.map((r) => {
      const error = Either.getLeft(r).pipe(Option.getOrThrow)
      return error.problems
    })
  )

const okWith = (file: string, env: Record<string, string> = {}) =>
  loadWith(file, env).pipe(Effect.map((r) => Either.getOrThrow(r)))

describe("loading", () => {
  it.effect("reads a valid file and fills in the documented defaults", () =>
    Effect.gen(function* () {
      const { config, warnings } = yield* okWith(setup(VALID).file)
      expect(config.convertor.url).toBe("http://127.0.0.1:3005/api")
      expect(Duration.toSeconds(config.convertor.timeout)).toBe(10)
      expect(Duration.toSeconds(config.pollInterval)).toBe(30)
      expect(Duration.toSeconds(config.window.from)).toBe(300)
      expect(Duration.toSeconds(config.window.to)).toBe(120)
      expect(config.concurrency).toBe(32)
      expect(config.services).toEqual([{ name: "api", environment: "production" }])
      expect(Redacted.value(config.dashboard.secret)).toBe(SECRET)
      expect(warnings).toEqual([])
    })
  )

  it.effect("defaults poll_interval to 60 seconds", () =>
    Effect.gen(function* () {
      const { config } = yield* okWith(setup(VALID.replace("  poll_interval: 30\n", "")).file)
      expect(Duration.toSeconds(config.pollInterval)).toBe(60)
    })
  )

  it.effect("merges conf.d/*.yaml in name order, then MP_ variables, later winning", () =>
    Effect.gen(function* () {
      const { file } = setup(VALID, {
        "20-late.yaml": "reporter:\n  poll_interval: 20\n",
        "10-early.yaml": "reporter:\n  poll_interval: 10\n  concurrency: 7\nconvertor:\n  timeout: 3\n",
        "ignored.txt": "reporter: {poll_interval: 999}\n"
      })
      const fromFiles = yield* okWith(file)
      expect(Duration.toSeconds(fromFiles.config.pollInterval)).toBe(20)
      expect(fromFiles.config.concurrency).toBe(7)
      expect(Duration.toSeconds(fromFiles.config.convertor.timeout)).toBe(3)
      expect(fromFiles.config.convertor.url).toBe("http://127.0.0.1:3005/api") // kept: deep merge

      const withEnv = yield* okWith(file, {
        MP_REPORTER__POLL_INTERVAL: "5",
        MP_CONVERTOR__URL: "http://localhost:9999/api/",
        MP_STATUS_DASHBOARD__SECRET: "from-the-environment-and-long-enough-0123",
        MP_REPORTER__SERVICES: "[{name: dns, environment: staging}]",
        UNRELATED: "x"
      })
      expect(Duration.toSeconds(withEnv.config.pollInterval)).toBe(5)
      expect(withEnv.config.convertor.url).toBe("http://localhost:9999/api")
      expect(Redacted.value(withEnv.config.dashboard.secret)).toBe("from-the-environment-and-long-enough-0123")
      expect(withEnv.config.services).toEqual([{ name: "dns", environment: "staging" }])
    })
  )

  it("turns MP_ variables into a nested tree", () => {
    expect(envOverrides({ MP_STATUS_DASHBOARD__SECRET: "s", MP_A__B__C: "1", PATH: "/bin" })).toEqual({
      status_dashboard: { secret: "s" },
      a: { b: { c: "1" } }
    })
  })

  it.effect("reads the secret from status_dashboard.secret_file, relative to the config file", () =>
    Effect.gen(function* () {
      const main = VALID.replace(`  secret: ${SECRET}`, "  secret_file: dashboard.secret")
      const { file } = setup(main, {}, { "dashboard.secret": `${SECRET}-from-file\n` })
      const { config } = yield* okWith(file)
      expect(Redacted.value(config.dashboard.secret)).toBe(`${SECRET}-from-file`)
    })
  )

  it.effect("secret and secret_file: the later layer wins, whichever of the two it sets", () =>
    Effect.gen(function* () {
      const fromFile = VALID.replace(`  secret: ${SECRET}`, "  secret_file: dashboard.secret")
      const { file } = setup(fromFile, {}, { "dashboard.secret": `${SECRET}-from-file` })
      const env = yield* okWith(file, { MP_STATUS_DASHBOARD__SECRET: `${SECRET}-from-env` })
      expect(Redacted.value(env.config.dashboard.secret)).toBe(`${SECRET}-from-env`)

      const inline = setup(VALID, {}, { "dashboard.secret": `${SECRET}-from-file` })
      const viaFile = yield* okWith(inline.file, { MP_STATUS_DASHBOARD__SECRET_FILE: "dashboard.secret" })
      expect(Redacted.value(viaFile.config.dashboard.secret)).toBe(`${SECRET}-from-file`)

      const both = yield* problemsOf(setup(VALID.replace(`  secret: ${SECRET}`, `  secret: ${SECRET}\n  secret_file: x`)).file)
      expect(both).toEqual(["status_dashboard: secret and secret_file are both set in one place; keep one"])
    })
  )

  it.effect("warns about unknown keys with a suggestion", () =>
    Effect.gen(function* () {
      const { warnings } = yield* okWith(setup(VALID.replace("  poll_interval: 30", "  poll_intervall: 30\n  colour: blue")).file)
      expect(warnings).toContain('unknown key reporter.poll_intervall (did you mean "poll_interval"?): it is ignored')
      expect(warnings.some((w) => w.startsWith("unknown key reporter.colour") && !w.includes("did you mean"))).toBe(true)
      expect(unknownKeys({ reporter: { services: [{ name: "a", environment: "b", enviroment: "c" }] } })).toEqual([
        'unknown key reporter.services[0].enviroment (did you mean "environment"?): it is ignored'
      ])
    })
  )

  it.effect('starts with an empty services list but warns "No services being polled"', () =>
    Effect.gen(function* () {
      const text = VALID.replace(/ {2}services:[\s\S]*$/, "  services: []\n")
      const { config, warnings } = yield* okWith(setup(text).file)
      expect(config.services).toEqual([])
      expect(warnings.some((w) => w.startsWith("No services being polled"))).toBe(true)
    })
  )

  it.effect("warns about a secret shorter than 32 bytes and about plain http to a remote dashboard", () =>
    Effect.gen(function* () {
      const text = VALID.replace(SECRET, "tiny-Qx7").replace("url: http://127.0.0.1:3000", "url: http://status.example.com")
      const { warnings } = yield* okWith(setup(text).file)
      expect(warnings.some((w) => w.includes("shorter than 32 bytes"))).toBe(true)
      expect(warnings.some((w) => w.includes("plain http to status.example.com"))).toBe(true)
      expect(warnings.join("\n")).not.toContain("tiny-Qx7")
    })
  )
})

describe("configuration errors name the path and the problem", () => {
  const cases: ReadonlyArray<[string, string | undefined, RegExp]> = [
    ["missing file", undefined, /^the file does not exist \(pass the right path with --config FILE\)$/],
    ["invalid YAML, with its line", VALID.replace("reporter:", "reporter:\n  - : [oops"), /invalid YAML at line \d+, column \d+/],
    ["missing required key", VALID.replace("  url: http://127.0.0.1:3005/api\n", ""), /^convertor\.url: is required but missing$/],
    ["wrong type", VALID.replace("poll_interval: 30", "poll_interval: often"), /^reporter\.poll_interval: expected a positive number of seconds, got "often"$/],
    ["zero interval", VALID.replace("poll_interval: 30", "poll_interval: 0"), /^reporter\.poll_interval: expected a positive number of seconds, got 0$/],
    ["negative interval", VALID.replace("poll_interval: 30", "poll_interval: -5"), /^reporter\.poll_interval: expected a positive number of seconds, got -5$/],
    ["URL that is not http(s)", VALID.replace("http://127.0.0.1:3005/api", "ftp://127.0.0.1/api"), /^convertor\.url: expected an http:\/\/ or https:\/\/ URL, got "ftp:\/\/127\.0\.0\.1\/api"$/],
    ["service without environment", VALID.replace("      environment: production\n", ""), /^reporter\.services\[0\]\.environment: is required but missing$/],
    ["duplicate services", VALID + "    - {name: api, environment: production}\n", /^reporter\.services\[1\]: duplicate of reporter\.services\[0\] \(api in production\); remove one$/],
    ["missing secret", VALID.replace(`  secret: ${SECRET}\n`, ""), /^status_dashboard\.secret: is required but missing; set it .*MP_STATUS_DASHBOARD__SECRET/],
    ["a list at the top", "- a\n- b\n", /expected a YAML mapping at the top level/],
    ["window the wrong way round", VALID + "  window: {from: 60, to: 120}\n", /^reporter\.window: from \(60s ago\) must be earlier than to \(120s ago\)$/]
  ]
  for (const [name, text, expected] of cases) {
    it.effect(name, () =>
      Effect.gen(function* () {
        const problems = yield* problemsOf(setup(text).file)
        expect(problems).toHaveLength(1)
        expect(problems[0]).toMatch(expected)
      })
    )
  }

  it.effect("an unreadable file (a directory here) says it cannot be read", () =>
    Effect.gen(function* () {
      const { dir } = setup(undefined)
      const problems = yield* problemsOf(dir)
      expect(problems[0]).toBe("the file cannot be read (is it a regular file?)")
    })
  )

  it.effect("reports every problem at once", () =>
    Effect.gen(function* () {
      const text = VALID.replace("poll_interval: 30", "poll_interval: often").replace("http://127.0.0.1:3000", "nope")
      const problems = yield* problemsOf(setup(text).file)
      expect(problems).toHaveLength(2)
    })
  )

  it.effect("never echoes a secret, even one of the wrong type", () =>
    Effect.gen(function* () {
      const problems = yield* problemsOf(setup(VALID.replace(`secret: ${SECRET}`, "secret: [hunter2hunter2]")).file)
      expect(problems).toEqual(["status_dashboard.secret: expected a non-empty string"])
      const both = yield* problemsOf(setup(VALID).file, { MP_STATUS_DASHBOARD__SECRET_FILE: "/nonexistent" })
      expect(both.join("\n")).not.toContain(SECRET)
    })
  )
})
