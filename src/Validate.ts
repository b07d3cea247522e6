/**
 * `validate`: the configuration as the daemon would run it, without running
 * it. Decodes the merged configuration (file, `conf.d`, environment), prints
 * it as YAML with every default filled in and every secret `<redacted>`,
 * and the warnings; exit 0, or 2 with the problems. Contacts no peer.
 *
 * `validate --connect` then asks each peer, read-only: one convertor
 * request per service, a few at a time, and each target (Target/Check.ts);
 * exit 0 when every one is fine, else 1. Never a notification.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { stringify } from "yaml"
import { AppConfig, load, reportConfigError, type ReporterConfig } from "./Config.js"
import { logErrorAlways } from "./Logging.js"
import { effective } from "./Config/Effective.js"
import * as Policy from "./Policy.js"
import { Convertor } from "./Convertor.js"
import { adapterFor } from "./Target/adapters.js"
import { type CheckResult, checkTarget } from "./Target/Check.js"
import { safeUrl } from "./Domain.js"
import type { Transport } from "./Transport.js"


/**
 * One request per configured service, a few at a time: the convertor is
 * asked what the daemon would ask, so a service it does not know (404, 409)
 * is found here, not at 3 a.m. Failures one line each; then one line for all.
 */
const CHECK_CONCURRENCY = 8

const checkConvertor = (config: ReporterConfig): Effect.Effect<ReadonlyArray<CheckResult>, never, Transport> => {
  const services = config.reporter.services
  const peer = `Convertor at ${safeUrl(config.convertor.url)}`
  if (services.length === 0) return Effect.succeed([{ ok: true, line: `${peer}: not asked (reporter.services is empty)` }])
  return Effect.flatMap(Convertor, (convertor) =>
    Effect.forEach(
      services,
      (service) =>
        convertor.probe(service).pipe(
          Effect.map((reading) => ({ ok: true as const, reading: reading._tag === "Current" ? `status ${reading.health.status}` : reading._tag === "NoData" ? "no data in the window" : `stale: ${reading.why}` })),
          Effect.catchAll((e) => Effect.succeed({ ok: false as const, line: e.message }))
        ),
      { concurrency: CHECK_CONCURRENCY }
    ).pipe(
      Effect.map((results): ReadonlyArray<CheckResult> => {
        const failed = results.flatMap((r) => (r.ok ? [] : [{ ok: false, line: r.line }]))
        const answered = results.length - failed.length
        const noData = results.filter((r) => r.ok && r.reading === "no data in the window").length
        const summary =
          services.length === 1 && results[0]!.ok
            ? `${peer}: answered for ${services[0]!.name} in ${services[0]!.environment} (${(results[0] as { reading: string }).reading})`
            : `${peer}: answered for ${answered} of ${services.length} service(s)${noData > 0 ? ` (${noData} with no data in the window)` : ""}`
        return [...failed, { ok: failed.length === 0, line: summary }]
      })
    )
  ).pipe(Effect.provide(Convertor.Default.pipe(Layer.provide(Layer.succeed(AppConfig, config)))))
}

export const validate = (options: {
  readonly configFile: string
  readonly env: Record<string, string | undefined>
  readonly connect: boolean
}): Effect.Effect<number, never, FileSystem.FileSystem | Path.Path | Transport> =>
  Effect.gen(function* () {
    const loaded = yield* Effect.either(load(options.configFile, options.env))
    if (loaded._tag === "Left") return yield* Effect.as(reportConfigError(loaded.left), 2)
    const { config, warnings } = loaded.right
    const policies = new Map(
      [...Policy.policiesOf(config.notify, config.targets)].map(([name, p]) => [
        name,
        { mode: p.mode, repeat_interval: Duration.toSeconds(p.repeatInterval), send_resolved: p.sendResolved, failure_threshold: p.failureThreshold, success_threshold: p.successThreshold }
      ])
    )
    yield* Console.log(stringify(effective(config, policies), { lineWidth: 0 }).trimEnd())
    for (const warning of warnings) yield* Effect.logWarning(warning)
    yield* Effect.logInfo(`${options.configFile}: the configuration is valid${warnings.length > 0 ? `, with ${warnings.length} warning(s)` : ""}`)
    if (!options.connect) return 0
    const [convertor, targets] = yield* Effect.all(
      [
        checkConvertor(config),
        Effect.forEach(
          config.targets,
          (spec) => {
            const adapter = adapterFor(spec.type)
            return adapter.check !== undefined ? adapter.check(spec, config.reporter.services) : Effect.map(checkTarget(adapter, spec), (r) => [r])
          },
          { concurrency: "unbounded" }
        )
      ],
      { concurrency: "unbounded" }
    )
    const results = [...convertor, ...targets.flat()]
    for (const r of results) yield* r.ok ? Effect.logInfo(r.line) : logErrorAlways(r.line)
    const bad = results.filter((r) => !r.ok).length
    const line = `Connection check: ${results.length - bad} of ${results.length} fine`
    yield* bad === 0 ? Effect.logInfo(line) : logErrorAlways(`${line}; see above`)
    return bad === 0 ? 0 : 1
  })
