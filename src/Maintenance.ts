/**
 * Planned maintenance: notifications for a service inside a window are
 * held back (Policy.ts), and the first reading after it notifies again.
 * Windows come from the configuration (`maintenance:`, by `service/environment`
 * or `*`) and, with `reporter.maintenances: true`, from the convertor, read
 * once each cycle, alongside the polls (by service name, and region when
 * given). That read is bounded by the phase budget; until it answers, and
 * when it fails, the windows it read last apply.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { budgetHint, phaseBudget } from "./Budget.js"
import { AppConfig } from "./Config.js"
import { Convertor } from "./Convertor.js"
import type { MaintenanceWindow } from "./Convertor/Reading.js"
import { type Health, type ServiceRef, serviceKey } from "./Domain.js"

export interface MaintenanceService {
  /** Reads the convertor's windows, when asked to, within the phase budget; a failure is a warning, and the last windows read stay. */
  readonly refresh: Effect.Effect<void>
  /** A plain call: it runs once per service and target, on the cycle's hot path. */
  readonly covers: (service: ServiceRef, health: Health, now: number) => boolean
}

export class Maintenance extends Context.Tag("reporter/Maintenance")<Maintenance, MaintenanceService>() {}

export const layer: Layer.Layer<Maintenance, never, AppConfig | Convertor> = Layer.effect(
  Maintenance,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const convertor = yield* Convertor
    // Set only by `refresh`: the windows the convertor said last.
    let fromConvertor: ReadonlyArray<MaintenanceWindow> = []
    const budget = phaseBudget(config.reporter.poll_interval)
    const refresh = config.reporter.maintenances
      ? convertor.maintenances.pipe(
          Effect.timeoutFail({ duration: budget, onTimeout: () => `no answer within ${budgetHint(budget)}` }),
          Effect.flatMap((windows) => Effect.sync(() => void (fromConvertor = windows))),
          Effect.catchAll((why) =>
            Effect.logWarning(
              `Maintenance windows from the convertor cannot be read (${why}): ` +
                (fromConvertor.length === 0 ? "none were read before, so none apply" : `the ${fromConvertor.length} window(s) read last still apply`)
            )
          )
        )
      : Effect.void
    const covers: MaintenanceService["covers"] = (service, health, now) =>
      config.maintenance.some((w) => w.start <= now && now < w.end && w.services.some((s) => s === "*" || s === serviceKey(service))) ||
      fromConvertor.some((w) => w.start <= now && now < w.end && w.service === service.name && (w.region === undefined || w.region === health.region))
    return { refresh, covers }
  })
)
