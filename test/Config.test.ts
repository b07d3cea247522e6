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
import { load, type ReporterConfig } from "../src/Config.js"
import { changes } from "../src/Config/Effective.js"
import { hideUserinfo } from "../src/Domain.js"
import { dashboardSpec, testConfig } from "./helpers.js"
import { ADAPTERS } from "../src/Target/adapters.js"
import { identityOf, REGISTRY } from "../src/Target/registry.js"
import { defaultMode, policyFor } from "../src/Policy.js"
import { unknownKeys } from "../src/Config/Keys.js"
import { envOverrides } from "../src/Config/Sources.js"

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
      expect(Duration.toSeconds(config.reporter.poll_interval)).toBe(30)
      expect(Duration.toSeconds(config.reporter.window.from)).toBe(300)
      expect(Duration.toSeconds(config.reporter.window.to)).toBe(120)
      expect(config.reporter.concurrency).toBe(32)
      expect(config.reporter.services).toEqual([{ name: "api", environment: "production" }])
      expect(Redacted.value(config.targets[0]!.secrets["secret"]!)).toBe(SECRET)
      expect(warnings).toEqual([])
    })
  )

  it.effect("defaults poll_interval to 60 seconds", () =>
    Effect.gen(function* () {
      const { config } = yield* okWith(setup(VALID.replace("  poll_interval: 30\n", "")).file)
      expect(Duration.toSeconds(config.reporter.poll_interval)).toBe(60)
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
      expect(Duration.toSeconds(fromFiles.config.reporter.poll_interval)).toBe(20)
      expect(fromFiles.config.reporter.concurrency).toBe(7)
      expect(Duration.toSeconds(fromFiles.config.convertor.timeout)).toBe(3)
      expect(fromFiles.config.convertor.url).toBe("http://127.0.0.1:3005/api") // kept: deep merge

      const withEnv = yield* okWith(file, {
        MP_REPORTER__POLL_INTERVAL: "5",
        MP_CONVERTOR__URL: "http://localhost:9999/api/",
        MP_STATUS_DASHBOARD__SECRET: "from-the-environment-and-long-enough-0123",
        MP_REPORTER__SERVICES: "[{name: dns, environment: staging}]",
        UNRELATED: "x"
      })
      expect(Duration.toSeconds(withEnv.config.reporter.poll_interval)).toBe(5)
      expect(withEnv.config.convertor.url).toBe("http://localhost:9999/api")
      expect(Redacted.value(withEnv.config.targets[0]!.secrets["secret"]!)).toBe("from-the-environment-and-long-enough-0123")
      expect(withEnv.config.reporter.services).toEqual([{ name: "dns", environment: "staging" }])
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
      expect(Redacted.value(config.targets[0]!.secrets["secret"]!)).toBe(`${SECRET}-from-file`)
    })
  )

  it.effect("secret and secret_file: the later layer wins, whichever of the two it sets", () =>
    Effect.gen(function* () {
      const fromFile = VALID.replace(`  secret: ${SECRET}`, "  secret_file: dashboard.secret")
      const { file } = setup(fromFile, {}, { "dashboard.secret": `${SECRET}-from-file` })
      const env = yield* okWith(file, { MP_STATUS_DASHBOARD__SECRET: `${SECRET}-from-env` })
      expect(Redacted.value(env.config.targets[0]!.secrets["secret"]!)).toBe(`${SECRET}-from-env`)

      const inline = setup(VALID, {}, { "dashboard.secret": `${SECRET}-from-file` })
      const viaFile = yield* okWith(inline.file, { MP_STATUS_DASHBOARD__SECRET_FILE: "dashboard.secret" })
      expect(Redacted.value(viaFile.config.targets[0]!.secrets["secret"]!)).toBe(`${SECRET}-from-file`)

      const both = yield* problemsOf(setup(VALID.replace(`  secret: ${SECRET}`, `  secret: ${SECRET}\n  secret_file: x`)).file)
      expect(both).toEqual(["status_dashboard: secret and secret_file are both set in one place; keep one"])
    })
  )

  it.effect("refuses unknown keys (exit 2), with a suggestion: a typo never switches a target off", () =>
    Effect.gen(function* () {
      const problems = yield* problemsOf(setup(VALID.replace("  poll_interval: 30", "  poll_intervall: 30\n  colour: blue")).file)
      expect(problems).toContain('unknown key reporter.poll_intervall (did you mean "poll_interval"?): correct it or remove it')
      expect(problems.some((w) => w.startsWith("unknown key reporter.colour") && !w.includes("did you mean"))).toBe(true)
      // `notifier:` for `notifiers:` would have run without paging.
      const paging = VALID + "notifier:\n  - type: pagerduty\n    routing_key: R0UT1NGKEY0123456789abcdef012345\n"
      expect(yield* problemsOf(setup(paging).file)).toEqual(['unknown key notifier (did you mean "notifiers"?): correct it or remove it'])
      expect(unknownKeys({ reporter: { services: [{ name: "a", environment: "b", enviroment: "c" }] } })).toEqual([
        'unknown key reporter.services[0].enviroment (did you mean "environment"?): correct it or remove it'
      ])
    })
  )

  it.effect('starts with an empty services list but warns "No services being polled"', () =>
    Effect.gen(function* () {
      const text = VALID.replace(/ {2}services:[\s\S]*$/, "  services: []\n")
      const { config, warnings } = yield* okWith(setup(text).file)
      expect(config.reporter.services).toEqual([])
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
    ["wrong type", VALID.replace("poll_interval: 30", "poll_interval: often"), /^reporter\.poll_interval: expected a positive number of seconds from 1 to 86400, got "often"$/],
    ["zero interval", VALID.replace("poll_interval: 30", "poll_interval: 0"), /^reporter\.poll_interval: expected a positive number of seconds from 1 to 86400, got 0$/],
    ["negative interval", VALID.replace("poll_interval: 30", "poll_interval: -5"), /^reporter\.poll_interval: expected a positive number of seconds from 1 to 86400, got -5$/],
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
      expect(problems[0]).toBe("the file is not a regular file")
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

describe("configuration that would break every cycle is refused at start-up", () => {
  const problem = (text: string, env: Record<string, string> = {}) =>
    problemsOf(setup(text).file, env).pipe(Effect.map((problems) => problems.join("\n")))

  it.effect("a base URL with a query, a fragment or spaces around it", () =>
    Effect.gen(function* () {
      expect(yield* problem(VALID.replace("http://127.0.0.1:3005/api", "http://h/api?x=1"))).toMatch(
        /^convertor\.url: expected a base URL without a query \(\?\.\.\.\) or fragment/
      )
      expect(yield* problem(VALID.replace("http://127.0.0.1:3000", "http://h/#frag"))).toMatch(/^status_dashboard\.url: .*fragment/)
      expect(yield* problem(VALID.replace("http://127.0.0.1:3005/api", '" http://h/api "'))).toBe(
        'convertor.url: expected a URL without spaces around it, got " http://h/api "'
      )
    })
  )

  it.effect("numbers out of their bounds, each naming the key and the bounds", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<[string, string, string]> = [
        ["poll_interval: 30", "poll_interval: 0.001", "reporter.poll_interval: expected a positive number of seconds from 1 to 86400, got 0.001"],
        ["poll_interval: 30", "poll_interval: 1e308", "reporter.poll_interval: expected a positive number of seconds from 1 to 86400, got 1e+308"],
        ["poll_interval: 30", "poll_interval: 30\n  concurrency: 1025", "reporter.concurrency: expected a whole number from 1 to 1024, got 1025"],
        ["poll_interval: 30", "poll_interval: 30\n  concurrency: 2.5", "reporter.concurrency: expected a whole number from 1 to 1024, got 2.5"],
        ["poll_interval: 30", "poll_interval: 30\n  window: {from: 1e13, to: 120}", "reporter.window.from: expected a number of seconds from 0 to 604800, got 10000000000000"],
        ["url: http://127.0.0.1:3005/api", "url: http://127.0.0.1:3005/api\n  timeout: 0.01", "convertor.timeout: expected a positive number of seconds from 0.1 to 600, got 0.01"],
        ["url: http://127.0.0.1:3000", "url: http://127.0.0.1:3000\n  timeout: 601", "status_dashboard.timeout: expected a positive number of seconds from 0.1 to 600, got 601"]
      ]
      for (const [from, to, expected] of cases) expect(yield* problem(VALID.replace(from, to))).toBe(expected)
    })
  )

  it.effect("warns, naming both keys and the effective value, when a timeout is longer than the phase budget", () =>
    Effect.gen(function* () {
      const { warnings } = yield* okWith(setup(VALID.replace("url: http://127.0.0.1:3005/api", "url: http://127.0.0.1:3005/api\n  timeout: 20")).file)
      expect(warnings).toContain(
        "convertor.timeout (20s) is longer than 45% of reporter.poll_interval (30s): each attempt is cut to 13.5s; lower convertor.timeout or raise reporter.poll_interval"
      )
      expect(warnings.some((w) => w.startsWith("status_dashboard.timeout"))).toBe(false)
    })
  )

  it.effect("a timeout nobody set follows a short interval, and warns about nothing; one that was set is kept", () =>
    Effect.gen(function* () {
      const short = VALID.replace("  poll_interval: 30", "  poll_interval: 10") + "notifiers:\n  - {type: slack, webhook_url: https://hooks.slack.test/x}\n  - {type: slack, webhook_url: https://hooks.slack.test/y, timeout: 8}\n"
      const { config, warnings } = yield* okWith(setup(short).file)
      expect(warnings.filter((w) => w.includes("timeout"))).toEqual([
        "notifiers[1].timeout (8s) is longer than 45% of reporter.poll_interval (10s): each attempt is cut to 4.5s; lower notifiers[1].timeout or raise reporter.poll_interval"
      ])
      expect(Duration.toSeconds(config.convertor.timeout)).toBe(4.5)
      expect(config.targets.map((t) => Duration.toSeconds((t.settings as { timeout: Duration.Duration }).timeout))).toEqual([4.5, 4.5, 8])
      // At the default interval, the default 10 s.
      expect(Duration.toSeconds((yield* okWith(setup(VALID).file)).config.convertor.timeout)).toBe(10)
    })
  )

  it.effect("a YAML alias bomb, in the file or in conf.d, is a configuration error naming the file", () =>
    Effect.gen(function* () {
      const levels = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
      const bomb = levels
        .map((name, i) => (i === 0 ? `${name}: &${name} [lol, lol, lol, lol, lol, lol, lol, lol, lol]` : `${name}: &${name} [${Array(9).fill(`*${levels[i - 1]}`).join(", ")}]`))
        .join("\n")
      expect(yield* problem(bomb)).toMatch(/^invalid YAML: its aliases expand too far/)
      const { file } = setup(VALID, { "10-bomb.yaml": bomb })
      expect((yield* problemsOf(file)).join("\n")).toMatch(/conf\.d\/10-bomb\.yaml: invalid YAML: its aliases expand too far/)
    })
  )

  it.effect("refuses what is not a regular file, and files past the cap, instead of reading them", () =>
    Effect.gen(function* () {
      expect(yield* problemsOf("/dev/zero")).toEqual(["the file is not a regular file"])
      const secretFile = VALID.replace(`secret: ${SECRET}`, "secret_file: /dev/zero")
      expect(yield* problem(secretFile)).toBe("status_dashboard.secret_file: /dev/zero is not a regular file")
      const big = setup(VALID + `# ${"x".repeat(1024 * 1024)}\n`).file
      expect(yield* problemsOf(big)).toEqual(["the file is larger than 1024 KiB"])
      const { file } = setup(VALID.replace(`secret: ${SECRET}`, "secret_file: big"), {}, { big: "s".repeat(65 * 1024) })
      expect((yield* problemsOf(file))[0]).toMatch(/^status_dashboard\.secret_file: .*big is larger than 64 KiB$/)
    })
  )

  it.effect("never echoes a URL's userinfo, whatever its password holds", () =>
    Effect.gen(function* () {
      const text = yield* problem(VALID.replace("http://127.0.0.1:3005/api", "http://user:pa/ss@host"))
      expect(text).toContain('convertor.url: expected an http:// or https:// URL, got "http://***@host"')
      expect(text).not.toMatch(/user|pa\/ss/)
    })
  )

  it.effect("names the MP_ variable, not the file's key, when the bad value came from the environment", () =>
    Effect.gen(function* () {
      expect(yield* problem(VALID, { MP_REPORTER__POLL_INTERVAL: "often" })).toBe(
        'MP_REPORTER__POLL_INTERVAL: expected a positive number of seconds from 1 to 86400, got "often"'
      )
      expect(yield* problem(VALID, { MP_REPORTER__SERVICES: "[{name: api}]" })).toBe(
        "MP_REPORTER__SERVICES[0].environment: is required but missing"
      )
      // The same key from the file is named as the file's key.
      expect(yield* problem(VALID.replace("poll_interval: 30", "poll_interval: often"))).toMatch(/^reporter\.poll_interval:/)
    })
  )

  it.effect("strips one trailing newline from a secret set inline or by the environment, as from secret_file", () =>
    Effect.gen(function* () {
      const fromEnv = yield* okWith(setup(VALID).file, { MP_STATUS_DASHBOARD__SECRET: `${SECRET}\n` })
      expect(Redacted.value(fromEnv.config.targets[0]!.secrets["secret"]!)).toBe(SECRET)
      const inline = yield* okWith(setup(VALID.replace(`secret: ${SECRET}`, `secret: "${SECRET}\\n"`)).file)
      expect(Redacted.value(inline.config.targets[0]!.secrets["secret"]!)).toBe(SECRET)
    })
  )

  it.effect("says a mistyped key before the required key it leaves missing", () =>
    Effect.gen(function* () {
      const text = VALID.replace("  url: http://127.0.0.1:3005/api\n", "  ulr: http://127.0.0.1:3005/api\n")
      const error = Either.getLeft(yield* loadWith(setup(text).file)).pipe(Option.getOrThrow)
      expect(error.problems).toEqual(['unknown key convertor.ulr (did you mean "url"?): correct it or remove it', "convertor.url: is required but missing"])
    })
  )
})

describe("the schema is the one place a key is written", () => {
  it.effect("target types are exactly the adapter table's keys; status_dashboard takes the dashboards among them", () =>
    Effect.gen(function* () {
      const withType = (type: string) => VALID.replace(`  secret: ${SECRET}`, `  secret: ${SECRET}\n  type: ${type}`)
      expect((yield* okWith(setup(withType("generic")).file)).config.status_dashboard.type).toBe("generic")
      expect(Object.keys(ADAPTERS)).toEqual(["generic", "stackmon", "statuspage", "pagerduty", "slack", "webhook"])
      expect(yield* problemsOf(setup(withType("bogus")).file)).toEqual(['status_dashboard.type: expected one of "generic", "stackmon", got "bogus"'])
      expect(yield* problemsOf(setup(withType("slack")).file)).toEqual(['status_dashboard.type: expected one of "generic", "stackmon", got "slack"'])
      const notifier = VALID + "notifiers:\n  - type: carrier-pigeon\n"
      expect(yield* problemsOf(setup(notifier).file)).toEqual([
        'notifiers[0].type: expected one of "generic", "stackmon", "statuspage", "pagerduty", "slack", "webhook", got "carrier-pigeon"'
      ])
    })
  )

  it("knows every key the schema decodes, and only those", () => {
    const everyKey = {
      convertor: { url: "u", timeout: 1 },
      status_dashboard: { type: "generic", url: "u", secret: "s", secret_file: "f", timeout: 1 },
      reporter: { poll_interval: 1, concurrency: 1, window: { from: 1, to: 0 }, services: [{ name: "a", environment: "b" }] }
    }
    expect(unknownKeys(everyKey)).toEqual([])
    expect(unknownKeys({ ...everyKey, reporter: { ...everyKey.reporter, window: { from: 1, too: 0 }, services: [{ name: "a", env: "b" }] } })).toEqual([
      'unknown key reporter.window.too (did you mean "to"?): correct it or remove it',
      'unknown key reporter.services[0].env: correct it or remove it'
    ])
  })
})

describe("notifiers", () => {
  const NOTIFIERS = `notifiers:
  - type: pagerduty
    name: oncall
    routing_key: R0UT1NGKEY0123456789abcdef012345
  - type: slack
    webhook_url_file: slack-hook
  - type: statuspage
    api_key: sp-key
    page_id: kctbh9vrtdwd
    components: {api/production: 8kbf7d35c070}
  - type: webhook
    url: https://hooks.example.com/cloudmon
    headers: {X-Token: inline-token}
    headers_file: {X-Other: other-token}
`
  const files = { "slack-hook": "https://hooks.slack.com/services/T0/B0/SECRET\n", "other-token": "from-a-file\n" }

  it.effect("decodes each type with its defaults, names them, reads *_file secrets beside the config", () =>
    Effect.gen(function* () {
      const { config } = yield* okWith(setup(VALID + NOTIFIERS, {}, files).file)
      expect(config.targets.map((t) => [t.name, t.type, t.path])).toEqual([
        ["dashboard", "generic", "status_dashboard"],
        ["oncall", "pagerduty", "notifiers[0]"],
        ["slack#1", "slack", "notifiers[1]"],
        ["statuspage#2", "statuspage", "notifiers[2]"],
        ["webhook#3", "webhook", "notifiers[3]"]
      ])
      const [, pd, slack, sp, hook] = config.targets
      expect(pd!.settings).toMatchObject({ url: "https://events.pagerduty.com/v2/enqueue", severity: { "1": "warning", "2": "critical" } })
      expect(Redacted.value(slack!.secrets["webhook_url"]!)).toBe("https://hooks.slack.com/services/T0/B0/SECRET")
      expect(sp!.settings).toMatchObject({ url: "https://api.statuspage.io/v1", status: { "1": "degraded_performance", "2": "major_outage" } })
      expect(Redacted.value(hook!.secretMaps["headers"]!["X-Other"]!)).toBe("from-a-file")
      expect(Redacted.value(hook!.secretMaps["headers"]!["X-Token"]!)).toBe("inline-token")
    })
  )

  it.effect("names what a type requires, where it is missing, at start-up", () =>
    Effect.gen(function* () {
      const text = VALID + "notifiers:\n  - type: slack\n  - type: statuspage\n    api_key: k\n  - {name: x}\n"
      expect(yield* problemsOf(setup(text).file)).toEqual([
        "notifiers[1].page_id: is required but missing",
        "notifiers[2].type: is required but missing"
      ])
      const secretless = VALID + "notifiers:\n  - type: slack\n"
      expect(yield* problemsOf(setup(secretless).file)).toEqual([
        "notifiers[0].webhook_url: is required but missing; set it in the file, with MP_NOTIFIERS__0__WEBHOOK_URL, or point notifiers[0].webhook_url_file at a file holding it"
      ])
    })
  )

  it.effect("MP_NOTIFIERS__0__ROUTING_KEY sets the first notifier's key, replacing its routing_key_file", () =>
    Effect.gen(function* () {
      const text = VALID + "notifiers:\n  - type: pagerduty\n    routing_key_file: /nonexistent\n"
      const { config } = yield* okWith(setup(text).file, { MP_NOTIFIERS__0__ROUTING_KEY: "from-the-environment-0123456789a" })
      expect(Redacted.value(config.targets[1]!.secrets["routing_key"]!)).toBe("from-the-environment-0123456789a")
    })
  )

  it.effect("a PagerDuty routing key that is not 32 characters, and a service too long for a dedup_key, are refused at load without echoing the key", () =>
    Effect.gen(function* () {
      const short = VALID + "notifiers:\n  - type: pagerduty\n    routing_key: R0UT1NG-SECRET-31-characters-xx\n"
      expect(yield* problemsOf(setup(short).file)).toEqual([
        "notifiers[0].routing_key: a PagerDuty routing key (an Events API v2 integration key) is 32 characters, this one is 31; copy it again from the integration's page"
      ])
      const long = VALID.replace("    - name: api\n", `    - name: ${"a".repeat(250)}\n`) + "notifiers:\n  - type: pagerduty\n    routing_key: R0UT1NGKEY0123456789abcdef012345\n"
      const problems = yield* problemsOf(setup(long).file)
      expect(problems).toHaveLength(1)
      expect(problems[0]).toMatch(/^reporter\.services: "a{40}…\/production" is longer than the 255 characters PagerDuty allows in a dedup_key \(notifiers\[0\]\); shorten its name or environment$/)
    })
  )

  it.effect("refuses keys a type does not know, and two targets of one name", () =>
    Effect.gen(function* () {
      expect(yield* problemsOf(setup(VALID + "notifiers:\n  - type: slack\n    webhook_url: https://h/x\n    page_id: nope\n").file)).toEqual([
        "unknown key notifiers[0].page_id: correct it or remove it"
      ])
      const twice = VALID + "notifiers:\n  - {type: slack, name: chat, webhook_url: https://h/x}\n  - {type: slack, name: chat, webhook_url: https://h/y}\n"
      expect(yield* problemsOf(setup(twice).file)).toEqual(['notifiers[1].name: "chat" is also the name of notifiers[0]; names must be unique'])
    })
  )

  it.effect("never echoes a notifier's secret in an error", () =>
    Effect.gen(function* () {
      const text = VALID + "notifiers:\n  - type: pagerduty\n    routing_key: [R0UT1NG-SECRET]\n  - type: slack\n    webhook_url: 42\n"
      const problems = (yield* problemsOf(setup(text).file)).join("\n")
      expect(problems).toContain("notifiers[0].routing_key: expected a non-empty string")
      expect(problems).not.toContain("R0UT1NG-SECRET")
      expect(problems).not.toContain("42")
    })
  )
})

describe("services are told apart by name and environment, not by how they print", () => {
  it.effect("{a/b, c} and {a, b/c} are two services, not a duplicate", () =>
    Effect.gen(function* () {
      const text = VALID.replace("    - name: api\n      environment: production\n", '    - {name: "a/b", environment: c}\n    - {name: a, environment: "b/c"}\n')
      expect((yield* okWith(setup(text).file)).config.reporter.services).toHaveLength(2)
    })
  )
})

describe("the notification policy's keys", () => {
  it("each target's policy: its type's default, under notify:, under its own notify:, key by key", () => {
    expect(policyFor(defaultMode(REGISTRY.generic.kind))).toMatchObject({ mode: "every_poll", sendResolved: false, failureThreshold: 1, successThreshold: 1 })
    expect(policyFor(defaultMode(REGISTRY.slack.kind))).toMatchObject({ mode: "on_change", sendResolved: true })
    expect(Duration.toMillis(policyFor(defaultMode(REGISTRY.pagerduty.kind)).repeatInterval)).toBe(0)
    const top = { mode: "on_change" as const, repeat_interval: Duration.seconds(3600) }
    const own = { failure_threshold: 3 }
    expect(policyFor(defaultMode(REGISTRY.generic.kind), top, own)).toMatchObject({ mode: "on_change", sendResolved: true, failureThreshold: 3 })
    expect(Duration.toSeconds(policyFor(defaultMode(REGISTRY.generic.kind), top, own).repeatInterval)).toBe(3600)
    expect(policyFor(defaultMode(REGISTRY.slack.kind), { send_resolved: false })).toMatchObject({ mode: "on_change", sendResolved: false })
  })

  it.effect("notify:, maintenance: and reporter.state_file decode; the state file is relative to the config file", () =>
    Effect.gen(function* () {
      const text =
        VALID.replace("  poll_interval: 30", "  poll_interval: 30\n  state_file: state.json\n  maintenances: true") +
        "notify: {mode: on_change, repeat_interval: 3600}\nmaintenance:\n  - services: [api/production]\n    start: 2026-12-01T02:00:00Z\n    end: 2026-12-01T04:00:00Z\nnotifiers:\n  - {type: slack, webhook_url: https://h/x, notify: {failure_threshold: 2}}\n"
      const { dir, file } = setup(text)
      const { config, warnings } = yield* okWith(file)
      expect(warnings).toEqual([])
      expect(config.reporter.state_file).toBe(join(dir, "state.json"))
      expect(config.reporter.maintenances).toBe(true)
      expect(config.maintenance).toEqual([{ services: ["api/production"], start: Date.parse("2026-12-01T02:00:00Z"), end: Date.parse("2026-12-01T04:00:00Z") }])
      expect(config.notify.mode).toBe("on_change")
      expect((config.targets[1]!.settings as { notify?: unknown }).notify).toEqual({ failure_threshold: 2 })
    })
  )

  it.effect("a window without a zone, or ending before it starts, is refused with its path", () =>
    Effect.gen(function* () {
      const zoneless = VALID + "maintenance:\n  - {services: ['*'], start: '2026-12-01T02:00:00', end: 2026-12-01T04:00:00Z}\n"
      expect(yield* problemsOf(setup(zoneless).file)).toEqual([
        'maintenance[0].start: expected an ISO 8601 time with a zone (2026-12-01T02:00:00Z), got "2026-12-01T02:00:00"'
      ])
      const backwards = VALID + "maintenance:\n  - {services: ['*'], start: 2026-12-01T04:00:00Z, end: 2026-12-01T02:00:00Z}\n"
      expect(yield* problemsOf(setup(backwards).file)).toEqual([
        "maintenance[0]: end (2026-12-01T02:00:00.000Z) must be later than start (2026-12-01T04:00:00.000Z)"
      ])
      expect(yield* problemsOf(setup(VALID + "notify: {mode: sometimes}\n").file)).toEqual(['notify.mode: expected "every_poll" or "on_change", got "sometimes"'])
    })
  )
})

describe("secrets in configuration errors (review findings)", () => {
  it.effect("a Slack webhook_url that is not a URL is refused without being shown; a headers value of the wrong type is not echoed", () =>
    Effect.gen(function* () {
      expect(yield* problemsOf(setup(VALID + "notifiers:\n  - {type: slack, webhook_url: hooks.slack.com/T0/SECRETPART}\n").file)).toEqual([
        "notifiers[0].webhook_url: expected an http:// or https:// URL (not shown: it is a secret)"
      ])
      const headers = (yield* problemsOf(setup(VALID + 'notifiers:\n  - {type: webhook, url: "https://h/x", headers: "X-Api-Key: s3cr3t-header-value"}\n').file)).join("\n")
      expect(headers).toContain("notifiers[0].headers: expected a mapping of keys")
      expect(headers).not.toContain("s3cr3t")
    })
  )
})

describe("what a reload changes (Config/Effective.ts)", () => {
  const base = testConfig({ services: [{ name: "api", environment: "production" }, { name: "db", environment: "production" }] })
  it("names services, intervals and targets that changed, and a secret that changed without showing it", () => {
    const rotated: ReporterConfig = {
      ...base,
      reporter: { ...base.reporter, poll_interval: Duration.seconds(30), services: [{ name: "api", environment: "production" }, { name: "web", environment: "staging" }] },
      targets: [{ ...dashboardSpec, secrets: { secret: Redacted.make("another-secret-that-is-long-enough-0123") } }]
    }
    const said = changes(base, rotated)
    expect(said).toEqual(["services added: web/staging", "services removed: db/production", "reporter.poll_interval 60s -> 30s", "target dashboard: secrets changed"])
    expect(JSON.stringify(said)).not.toContain("another-secret")
    expect(changes(base, base)).toEqual([])
    // A header read from a file (a webhook's headers_file) that was rotated is a secret that changed.
    const hook = (token: string): ReporterConfig => ({ ...base, targets: [{ ...dashboardSpec, secretMaps: { headers: { "X-Token": Redacted.make(token) } } }] })
    expect(changes(hook("old-token"), hook("new-token"))).toEqual(["target dashboard: secrets changed"])
    // A rotated key is the same dashboard (its notification state is kept); another URL is not.
    expect(identityOf(dashboardSpec)).toBe(identityOf(rotated.targets[0]!))
    expect(identityOf({ ...dashboardSpec, settings: { ...(dashboardSpec.settings as object), url: "http://elsewhere.test" } })).not.toBe(identityOf(dashboardSpec))
  })
})

describe("hiding a URL's userinfo", () => {
  it("hides everything up to the last @ of the first word, whatever the password holds", () => {
    expect(hideUserinfo("https://svc:top@secret@conv.example/api")).toBe("https://***@conv.example/api")
    expect(hideUserinfo("http://user:pa/ss@host")).toBe("http://***@host")
    expect(hideUserinfo("http://host/path")).toBe("http://host/path")
  })
})

describe("ha", () => {
  it.effect("off unless ha.lease is set; with it, client-go's timings and the state in a ConfigMap", () =>
    Effect.gen(function* () {
      expect((yield* okWith(setup(VALID).file)).config.ha).toBeUndefined()
      const { config } = yield* okWith(setup(VALID, { "ha.yaml": "ha: {lease: {name: cmr}}\n" }).file)
      expect(config.ha!.state).toBe("configmap")
      expect([config.ha!.lease.duration, config.ha!.lease.renew_deadline, config.ha!.lease.retry_period].map(Duration.toSeconds)).toEqual([15, 10, 2])
      expect(config.ha!.lease.namespace).toBeUndefined()
    }))

  it.effect("timings client-go refuses, a state file beside it, names the API server refuses: each named with its fix", () =>
    Effect.gen(function* () {
      const timings = yield* problemsOf(setup(VALID, { "ha.yaml": "ha: {lease: {name: cmr, duration: 10, renew_deadline: 10, retry_period: 9}}\nreporter: {state_file: s.json}\n" }).file)
      expect(timings).toEqual([
        "reporter.state_file: with ha, replicas do not share a file; the state lives in the cluster (ha.state: configmap): remove reporter.state_file",
        "ha.lease: duration (10s) must be greater than renew_deadline (10s), or a standby could take over while the leader still acts",
        "ha.lease: renew_deadline (10s) must be greater than 1.2 x retry_period (9s)"
      ])
      const names = yield* problemsOf(setup(VALID, { "ha.yaml": "ha: {lease: {name: Reporter_1, namespace: a.b}, state: etcd}\n" }).file)
      expect(names.join("\n")).toContain('ha.lease.name: expected a Kubernetes object name')
      expect(names.join("\n")).toContain('ha.lease.namespace: expected a Kubernetes namespace')
      expect(names.join("\n")).toContain('ha.state: expected one of "configmap", "lease", "none"')
      const fractional = yield* problemsOf(setup(VALID, { "ha.yaml": "ha: {lease: {name: cmr, duration: 15.5}}\n" }).file)
      expect(fractional.join("\n")).toContain("ha.lease.duration: expected a whole number of seconds from 1 to 3600")
    }))
})
