// Bundles the program into ESM files, dist/main.js (the entry) and dist/wiring.js
// (the program): start-up is dominated
// by module loading, and a single bundle loads several times faster than
// node_modules. The bundle carries every dependency, so neither the image
// nor an installed package needs node_modules.
//
//   node scripts/build.mjs           the product: dist/main.js (what the image and the package ship)
//   node scripts/build.mjs --tools   also the demo, simulators and benchmarks, in dist/tools/
//
// The product is built from src/ alone, so a build that has only src/ (the
// Docker build stage) cannot break when the tools change.
import { build } from "esbuild"
import { chmod, mkdir, rm, writeFile } from "node:fs/promises"

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  legalComments: "none",
  logLevel: "warning",
  // Some bundled dependencies are CommonJS and call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);"
  }
}

await rm("dist", { recursive: true, force: true })
await build({
  ...common,
  // main.js is the entry (it answers `--version` alone), wiring.js the program it loads otherwise.
  entryPoints: { main: "src/main.ts", wiring: "src/wiring.ts" },
  external: ["./wiring.js"],
  outdir: "dist",
  // Smaller source compiles faster at start-up. No source maps: a defect is
  // reported in one line without a stack, so nothing would read them.
  minify: true
})
await chmod("dist/main.js", 0o755)
// Wherever dist/ is copied (an image, a global install), Node reads main.js as ESM.
await writeFile("dist/package.json", `${JSON.stringify({ type: "module" })}\n`)

if (process.argv.includes("--tools")) {
  await mkdir("dist/tools", { recursive: true })
  await build({
    ...common,
    entryPoints: {
      demo: "demo/demo.ts",
      simulator: "demo/simulatorMain.ts",
      bench: "bench/bench.ts",
      soak: "bench/soak.ts"
    },
    outdir: "dist/tools",
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    sourcemap: "linked"
  })
}
