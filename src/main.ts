#!/usr/bin/env node
// The entry point. `--version` alone is answered here, without loading the
// program (wiring.ts, a bundle of its own): what asks for the version (a
// packaging script, a probe) does not pay for parsing and starting the whole
// reporter. Everything else, `--version` among other arguments included, is
// the program's.
import pkg from "../package.json" with { type: "json" }

const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) process.stdout.write(`${pkg.version}\n`)
else await import("./wiring.js")
