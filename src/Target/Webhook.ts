/**
 * Any webhook: the generic JSON body (docs/protocols.md §2) POSTed to `url`
 * as it is, with the configured headers; a JWT only when a `secret` is set.
 * Header values are treated as secrets (they often are tokens), and so is
 * the URL's path (Discord and Slack-style webhooks carry their token there):
 * messages show only its origin.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { Adapter } from "../Target.js"
import { type Notification, originOf } from "../Domain.js"
import { bodyOf, claimsOf } from "./Generic.js"
import type { SettingsOf } from "./registry.js"
import { makeSender, signerFor, signFailed } from "./Sender.js"

export const Webhook: Adapter<SettingsOf<"webhook">> = {
  make: (spec, { budget }) =>
    Effect.gen(function* () {
      const s = spec.settings
      const secret = spec.secrets["secret"]
      const signer = secret === undefined ? undefined : yield* signerFor(spec, secret)
      // Inline and from files alike (the loader merged them).
      const configured = Object.entries(spec.secretMaps["headers"] ?? {})
      const sender = yield* makeSender(spec, budget, { peer: originOf(s.url), authHint: `check ${spec.path}.headers and ${spec.path}.secret` })
      const headers = (n: Notification, now: number) =>
        Effect.map(
          signer === undefined ? Effect.succeed(undefined) : signer.sign(claimsOf(n), now).pipe(Effect.mapError(() => signFailed(sender, n))),
          (token): Record<string, string> => ({
            ...Object.fromEntries(configured.map(([name, value]) => [name.toLowerCase(), Redacted.value(value)])),
            ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
            "content-type": "application/json"
          })
        )
      return {
        name: spec.name,
        target: `webhook at ${originOf(s.url)}`,
        notify: (n) =>
          sender.send(n, (now) => Effect.map(headers(n, now), (h) => ({ method: "POST", url: s.url, headers: h, body: JSON.stringify(bodyOf(n)) }))),
        rehearse: (n) =>
          Clock.currentTimeMillis.pipe(
            Effect.flatMap((now) => headers(n, now)),
            Effect.as(
              `POST ${originOf(s.url)} ${JSON.stringify(bodyOf(n))} (headers ${configured.map(([name]) => name).join(", ") || "none"}, values redacted${signer ? "; JWT signed" : ""})`
            )
          )
      }
    })
}
