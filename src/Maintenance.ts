/**
 * Planned maintenance: notifications for a service inside a window are
 * held back (Policy.ts), and the first reading after it notifies again.
 * Windows come from the configuration (`maintenance:`, by `service/environment`
 * or `*`) and, with `reporter.maintenances: true`, from the convertor, read
 * once at the start of each cycle (by service name, and region when given).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AppConfig } from "./Config.js"
import { Convertor } from "./Convertor.js"
import type { MaintenanceWindow } from "./Convertor/Reading.js"
import { type Health, type ServiceRef, serviceKey } from "./Domain.js"

export interface MaintenanceService {
  /** Reads the convertor's windows, when asked to; a failure is a warning, and holds nothing back. */
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
    // Set only by `refresh`, between a cycle's start and its first reading.
    let fromConvertor: ReadonlyArray<MaintenanceWindow> = []
    const refresh = config.reporter.maintenances
      ? convertor.maintenances.pipe(
          Effect.flatMap((windows) => Effect.sync(() => void (fromConvertor = windows))),
          Effect.catchAll((why) =>
            Effect.zipRight(
              Effect.sync(() => void (fromConvertor = [])),
              Effect.logWarning(`Maintenance windows from the convertor cannot be read (${why}): none are applied this cycle`)
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
