import { defineConfig } from "vitest/config"

/** `npm test`: the whole suite, the black-box tests (real processes, the built dist/) included. */
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/seed.ts"],
    // Black-box tests start real processes; everything else is TestClock-driven and fast.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks"
  }
})
