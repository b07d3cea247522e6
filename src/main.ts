#!/usr/bin/env node
// The entry point. `--version` alone is answered here, without loading the
// program (wiring.ts, a bundle of its own): what asks for the version (a
// packaging script, a probe) does not pay for parsing and starting the whole
// reporter. Everything else, `--version` among other arguments included, is
// the program's.
import pkg from "../package.json" with { type: "json" }

const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) process.stdout.write(`${pkg.version}\n`)
else {
  // SIGHUP's default is to end the process, and the program takes a few hundred
  // milliseconds to load: a hang-up in that time is held here, and handed to the
  // program's own listener when it takes over (Hangups.ts, `watch`).
  const early = { received: 0 }
  const hold = () => void early.received++
  process.on("SIGHUP", hold)
  Object.assign(globalThis, { [Symbol.for("cloudmon-metrics-reporter/early-hangups")]: { received: () => early.received, release: () => process.off("SIGHUP", hold) } })
  await import("./wiring.js")
}
