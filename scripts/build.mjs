// Bundles each entry point into one ESM file: start-up is dominated by module
// loading, and a single bundle loads several times faster than node_modules.
import { build } from "esbuild"
import { chmod } from "node:fs/promises"

const entries = {
  main: "src/main.ts",
  demo: "src/demo.ts",
  simulator: "src/simulatorMain.ts"
}

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
  logLevel: "warning",
  // Some bundled dependencies are CommonJS and call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
  }
})
await chmod("dist/main.js", 0o755)
