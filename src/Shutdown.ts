/**
 * How the process stops. SIGTERM and SIGINT interrupt the program (runMain
 * does that); a notification already on the wire is let finish, for a while;
 * this module remembers which signal came, so that a `--once` run cut short
 * exits as shells expect (143 for SIGTERM, 130 for SIGINT) instead of 0.
 * (SIGHUP, which reloads, is Hangups.ts.)
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

type StopSignal = "SIGTERM" | "SIGINT"

/** Process-wide by nature: signals are, and runMain's teardown reads the code outside any Effect. */
const state: { signal: StopSignal | undefined; cutShort: boolean } = { signal: undefined, cutShort: false }

/** Called once by main, before the program runs. */
export const watchStopSignals = (): void => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      state.signal ??= signal
    })
  }
}

/** The shell's convention: 128 + the signal's number. */
export const signalExitCode = (): number => (state.signal === "SIGINT" ? 130 : 143)

/** A `--once` cycle was interrupted: the run did not do its job. */
export const markCutShort: Effect.Effect<void> = Effect.sync(() => {
  state.cutShort = true
})

/** The exit code of a run that a stop signal interrupted: 0 for a daemon, 143/130 for a cut-short `--once`. */
export const interruptedExitCode = (): number => (state.cutShort ? signalExitCode() : 0)

/** How long a notification on the wire may go on after a stop was asked for. */
export const IN_FLIGHT_GRACE = Duration.seconds(3)
