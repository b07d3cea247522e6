import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Black-box tests start real processes; everything else is TestClock-driven and fast.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks"
  }
})
