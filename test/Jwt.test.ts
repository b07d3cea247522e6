import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { decodeProtectedHeader, jwtVerify } from "jose"
import { webcrypto } from "node:crypto"
import { vi } from "vitest"
import { ISSUED_BEFORE_SECONDS, makeSigner, TOKEN_LIFETIME_SECONDS } from "../src/Jwt.js"
import { SECRET } from "./helpers.js"

describe("the JWT signer", () => {
  it.effect("imports the key once, then signs HS256 tokens that verify, with iat and exp", () =>
    Effect.gen(function* () {
      const importKey = vi.spyOn(webcrypto.subtle, "importKey")
      try {
        const signer = yield* makeSigner(Redacted.make(SECRET))
        const now = Date.parse("2024-01-20T12:00:00Z")
        const tokens = yield* Effect.all([1, 2, 3].map((status) => signer.sign({ service: "api", status }, now)))
        expect(importKey).toHaveBeenCalledTimes(1)
        for (const [i, token] of tokens.entries()) {
          expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "JWT" })
          const { payload } = yield* Effect.promise(() =>
            jwtVerify(token, new TextEncoder().encode(SECRET), { currentDate: new Date(now) })
          )
          expect(payload).toEqual({ service: "api", status: i + 1, iat: now / 1000 - ISSUED_BEFORE_SECONDS, exp: now / 1000 + TOKEN_LIFETIME_SECONDS })
        }
      } finally {
        importKey.mockRestore()
      }
    })
  )
})
