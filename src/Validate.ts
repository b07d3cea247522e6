/**
 * `validate`: the configuration as the daemon would run it, without running
 * it. Decodes the merged configuration (file, `conf.d`, environment), prints
 * it as YAML with every default filled in and every secret `<redacted>`,
 * and the warnings; exit 0, or 2 with the problems. Contacts no peer.
 *
 * `validate --connect` then asks each peer once, read-only: one convertor
 * request per environment, one request per target (Target/Check.ts);
 * exit 0 when every one is fine, else 1. Never a notification.
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { stringify } from "yaml"
import { AppConfig, load, reportConfigError, type ReporterConfig } from "./Config.js"
import { logErrorAlways } from "./Logging.js"
import { effective } from "./Config/Effective.js"
import { Convertor } from "./Convertor.js"
import { adapterFor } from "./Target/adapters.js"
import { type CheckResult, checkTarget } from "./Target/Check.js"
import { safeUrl, type ServiceRef } from "./Domain.js"
import type { Transport } from "./Transport.js"


/** One request per environment, for its first service: the convertor is asked what the daemon would ask. */
const checkConvertor = (config: ReporterConfig): Effect.Effect<ReadonlyArray<CheckResult>, never, Transport> => {
  const perEnvironment = new Map<string, ServiceRef>()
  for (const s of config.reporter.services) if (!perEnvironment.has(s.environment)) perEnvironment.set(s.environment, s)
  const peer = `Convertor at ${safeUrl(config.convertor.url)}`
  if (perEnvironment.size === 0) return Effect.succeed([{ ok: true, line: `${peer}: not asked (reporter.services is empty)` }])
  return Effect.flatMap(Convertor, (convertor) =>
    Effect.forEach(
      perEnvironment.values(),
      (service) =>
        convertor.probe(service).pipe(
          Effect.map((reading): CheckResult => ({
            ok: true,
            line: `${peer}: answered for ${service.name} in ${service.environment} (${reading._tag === "Current" ? `status ${reading.health.status}` : reading._tag === "NoData" ? "no data in the window" : `stale: ${reading.why}`})`
          })),
          Effect.catchAll((e) => Effect.succeed({ ok: false, line: e.message }))
        ),
      { concurrency: "unbounded" }
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
    yield* Console.log(stringify(effective(config), { lineWidth: 0 }).trimEnd())
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
