/**
 * Every test file runs with a seeded Math.random, set before Effect loads:
 * Effect's default Random service (the jitter of retry delays) is seeded
 * from it, so a run repeats itself. TEST_SEED picks another seed.
 */
let state = Number(process.env["TEST_SEED"] ?? 20261201) >>> 0
// mulberry32: small, fast, and good enough to spread jitter.
Math.random = () => {
  state = (state + 0x6d2b79f5) >>> 0
  let t = state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
