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
import { EventEmitter } from "node:events"
import { chmod, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { createRequire, isBuiltin } from "node:module"
import { join } from "node:path"

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

/**
 * The licence notices of every package the bundle carries: their code ships
 * in dist/, so their MIT/ISC/BSD notices must ship with it (legalComments is
 * "none": comments would be parsed at every start). One file, beside the bundle.
 */
const notices = async (metafile) => {
  const roots = new Set()
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*?node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input)
    if (m !== null) roots.add(m[1])
  }
  const sections = []
  for (const root of [...roots].sort()) {
    const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8"))
    const files = (await readdir(root)).filter((f) => /^(licen[cs]e|copying|notice)(\.|$)/i.test(f)).sort()
    const texts = await Promise.all(files.map((f) => readFile(join(root, f), "utf8")))
    sections.push(
      [`${pkg.name} ${pkg.version}`, `License: ${typeof pkg.license === "string" ? pkg.license : JSON.stringify(pkg.license ?? "see its package")}`, ...(pkg.homepage ? [`Home: ${pkg.homepage}`] : []), "", ...texts.map((t) => t.trim()), ""].join("\n")
    )
  }
  const header = `cloudmon-metrics-reporter bundles the following packages (dist/main.js, dist/wiring.js). Their licence notices:\n\n`
  return header + sections.join(`\n${"-".repeat(72)}\n\n`)
}

/**
 * The built-ins loaded when first used: those an idle reporter with http://
 * peers does not need, and that nothing else loads at start anyway (Node
 * loads stream/promises and querystring itself, Effect's clock loads
 * perf_hooks). Each one's exports are a plain object (checked below): a
 * built-in that exports a function or a class (events, stream, assert), or
 * an EventEmitter whose methods need it as `this` (cluster), cannot stand
 * behind an object, and loads at start as before.
 */
const WHEN_USED = new Set(["child_process", "crypto", "fs/promises", "https", "os", "readline", "tls", "v8", "zlib"])
const requireHere = createRequire(import.meta.url)
for (const name of WHEN_USED) {
  const exported = requireHere(name)
  if (typeof exported !== "object" || exported instanceof EventEmitter) throw new Error(`build: node:${name} does not export a plain object; it cannot be loaded when first used`)
}

/**
 * Node's built-ins by require() (the banner's), not by ESM import, and each
 * loaded when the program first uses it, not when the bundle starts.
 *
 * - By require(): from Node 22 on, building the ESM namespace of node:http
 *   reads its lazy getters (WebSocket, MessageEvent, CloseEvent), which loads
 *   Node's bundled undici, http2, zlib, worker_threads and web streams that
 *   the reporter never uses: about 4 MB more resident on the image's Node 26.
 * - When first used: the bundle evaluates every module's imports at start,
 *   so readline (for @effect/cli's prompts), fs/promises, os, tls and https
 *   were loaded by every run, used or not. Each built-in Node loads compiles
 *   its own JavaScript into the heap and pages its source in from the binary:
 *   an idle reporter with http:// peers held 4 to 5 MB more on Node 26 for
 *   them (3 services, medians of 5 runs). The module stands for the built-in
 *   through an object whose prototype loads it on the first property read
 *   (esbuild's namespace objects copy own properties only, and this has
 *   none), so `import * as`, named and default imports all work, and a
 *   built-in a run never touches is never loaded.
 */
const builtinsWhenUsed = {
  name: "builtins-when-used",
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_][a-z0-9_/]*$/ }, (args) =>
      !isBuiltin(args.path) ? undefined : args.namespace === "builtin" ? { path: args.path, external: true } : { path: args.path, namespace: "builtin" }
    )
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
      contents: !WHEN_USED.has(args.path.replace(/^node:/, "")) ? `module.exports = require(${JSON.stringify(args.path)})` : `module.exports = Object.create(new Proxy({}, {
  get: (_, key) => Reflect.get(load(), key),
  has: (_, key) => Reflect.has(load(), key)
}))
let loaded
const load = () => (loaded ??= require(${JSON.stringify(args.path)}))`,
      loader: "js"
    }))
  }
}

await rm("dist", { recursive: true, force: true })
const product = await build({
  ...common,
  metafile: true,
  // main.js is the entry (it answers `--version` alone), wiring.js the program it loads otherwise.
  entryPoints: { main: "src/main.ts", wiring: "src/wiring.ts" },
  external: ["./wiring.js"],
  outdir: "dist",
  plugins: [builtinsWhenUsed],
  // Smaller source compiles faster at start-up. No source maps: a defect is
  // reported in one line without a stack, so nothing would read them.
  minify: true
})
await chmod("dist/main.js", 0o755)
await writeFile("dist/THIRD_PARTY_NOTICES.txt", await notices(product.metafile))
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
