/**
 * The port for what the reporter counts, for people who alert on the
 * alerter. Call sites count as things happen; with `observability.listen`
 * set, Observability/Prometheus.ts keeps the figures for `/metrics`;
 * otherwise the default counts nothing, so a run without the endpoint pays
 * one empty call per event and initialises no metrics code.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { CycleSummary } from "./Summary.js"

/** What one convertor read came to. */
export type ConvertorOutcome = "ok" | "no_data" | "stale" | "failed"
export const CONVERTOR_OUTCOMES: ReadonlyArray<ConvertorOutcome> = ["ok", "no_data", "stale", "failed"]

export interface MetricsPort {
  /** A cycle ended at `finishedAtMillis`; its summary holds its duration and each service's state. */
  readonly cycle: (summary: CycleSummary, finishedAtMillis: number) => void
  /** One service read (retries included) and what it came to. */
  readonly convertorRequest: (outcome: ConvertorOutcome) => void
  /**
   * One notification to one target: delivered, failed (after its retries),
   * refused (a refusal that would come back the same: the target is held
   * back), or skipped on purpose (a person's incident, no component, held back).
   */
  readonly notification: (target: string, outcome: "delivered" | "failed" | "refused" | "skipped") => void
  /** One retry of a peer: `convertor`, or a target's name. */
  readonly retry: (peer: string) => void
  readonly jwtSignFailure: () => void
  /** The state file could not be written (reporter.state_file). */
  readonly stateWriteFailure: () => void
  /** After each cycle: whether any read of the convertor succeeded (Blind.ts). */
  readonly convertorUp: (up: boolean) => void
  /** Whether this replica leads (ha: Kube/Elector.ts); a daemon without ha leads from its start. */
  readonly leader: (leading: boolean) => void
  /** The targets configured now (at start, and after each reload): their series exist from then on, at zero. */
  readonly targets: (names: ReadonlyArray<string>) => void
}

export const NONE: MetricsPort = {
  cycle: () => {},
  convertorRequest: () => {},
  notification: () => {},
  retry: () => {},
  jwtSignFailure: () => {},
  stateWriteFailure: () => {},
  convertorUp: () => {},
  leader: () => {},
  targets: () => {}
}

export class Metrics extends Context.Reference<Metrics>()("reporter/Metrics", { defaultValue: (): MetricsPort => NONE }) {}

/** Counts, in the current fiber's metrics (none unless the endpoint is on). */
export const count = (f: (metrics: MetricsPort) => void): Effect.Effect<void> => Effect.map(Metrics, f)
