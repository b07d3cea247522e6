// Bundles each entry point into one ESM file: start-up is dominated by module
// loading, and a single bundle loads several times faster than node_modules.
import { build } from "esbuild"
import { chmod, rm } from "node:fs/promises"

const entries = {
  main: "src/main.ts",
  demo: "src/demo.ts",
  simulator: "src/simulatorMain.ts",
  bench: "bench/bench.ts",
  soak: "bench/soak.ts"
}

await rm("dist", { recursive: true, force: true })
await build({
  entryPoints: entries,
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  sourcemap: "linked",
  legalComments: "none",
  // Smaller source compiles faster at start-up (1.3 MB -> 0.55 MB); stack traces map back via the .map files.
  minify: true,
  logLevel: "warning",
  // Some bundled dependencies are CommonJS and call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
  }
})
await chmod("dist/main.js", 0o755)
