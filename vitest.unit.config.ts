import { defineConfig, mergeConfig } from "vitest/config"
import base from "./vitest.config.js"

/**
 * `npm run test:unit`: the in-process tests, for the edit-test loop. No child
 * process (these files start the built reporter, promtool, openssl, git or
 * npm), no network beyond loopback fakes, no build needed.
 */
export const PROCESS_TESTS = [
  "test/blackbox.test.ts",
  "test/operability.blackbox.test.ts",
  "test/targets.blackbox.test.ts",
  "test/stackmon.blackbox.test.ts",
  "test/alerting.blackbox.test.ts",
  "test/ha.blackbox.test.ts",
  "test/lean.blackbox.test.ts",
  "test/faults.test.ts",
  "test/hostile.test.ts",
  "test/demo.test.ts",
  "test/package.test.ts",
  "test/Dockerfile.test.ts",
  "test/alerts.test.ts",
  "test/NodeTransport.test.ts",
  "test/citations.test.ts"
]

// Threads start faster than forks, and the files share one module graph per worker (isolate: false):
// loading Effect and the program once per worker, not once per file, takes the tier from about 35 s
// to about 20 s here. Nothing here needs a process of its own, and no file leaves state another reads.
export default mergeConfig(base, defineConfig({ test: { exclude: PROCESS_TESTS, pool: "threads", isolate: false } }))
