/**
 * HS256 tokens (docs/protocols.md §2): the key is imported once, when the
 * target is set up, not for every signature; the secret leaves its Redacted
 * wrapper only here.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { SignJWT } from "jose"
import { webcrypto } from "node:crypto"
import { count } from "./Metrics.js"

/** Long enough for clock skew between us and the dashboard, short enough to limit replay. */
export const TOKEN_LIFETIME_SECONDS = 300

/**
 * `iat` is set this far back: a verifier whose clock is behind ours refuses
 * a token issued in its future (PyJWT 2.6+, which the Python Stackmon
 * dashboard uses, status-dashboard:app/authorization.py:55, has no leeway).
 */
export const ISSUED_BEFORE_SECONDS = 60

export interface Signer {
  /** A token over `claims`, issued ISSUED_BEFORE_SECONDS before `nowMillis`, expiring TOKEN_LIFETIME_SECONDS after it. Fails with no word of the key. */
  readonly sign: (claims: Record<string, unknown>, nowMillis: number) => Effect.Effect<string, SignFailed>
}

export class SignFailed {
  readonly _tag = "SignFailed"
}

/** Fails (never with a word of the key) when the secret cannot be an HMAC key. */
export const makeSigner = (secret: Redacted.Redacted<string>): Effect.Effect<Signer, SignFailed> =>
  Effect.map(
    Effect.tryPromise({
      try: () =>
        webcrypto.subtle.importKey("raw", new TextEncoder().encode(Redacted.value(secret)), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
      catch: () => new SignFailed()
    }),
    (key) => ({
      sign: (claims, nowMillis) => {
        const now = Math.floor(nowMillis / 1000)
        return Effect.tryPromise({
          try: () =>
            new SignJWT(claims)
              .setProtectedHeader({ alg: "HS256", typ: "JWT" })
              .setIssuedAt(now - ISSUED_BEFORE_SECONDS)
              .setExpirationTime(now + TOKEN_LIFETIME_SECONDS)
              .sign(key),
          // jose's messages never contain the key; still, say nothing of it.
          catch: () => new SignFailed()
        }).pipe(Effect.tapError(() => count((m) => m.jwtSignFailure())))
      }
    })
  )
