/**
 * The generic status dashboard (docs/protocols.md §2): POST /api/incidents
 * with an HS256 JWT whose claims repeat the body. Also the body of the
 * webhook target (Target/Webhook.ts).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { Adapter } from "../Target.js"
import type { SettingsOf } from "./registry.js"
import { isoSeconds, type Notification, safeUrl } from "../Domain.js"
import { makeSender, signerFor, signFailed } from "./Sender.js"

/** The protocol's body: the notification as JSON. */
export const bodyOf = (n: Notification) => ({
  service: n.service.name,
  environment: n.service.environment,
  status: n.status,
  message: n.message,
  timestamp: isoSeconds(n.timestamp.getTime())
})

/** The token's claims repeat the body, the timestamp in Unix seconds. */
export const claimsOf = (n: Notification) => ({
  service: n.service.name,
  environment: n.service.environment,
  status: n.status,
  timestamp: Math.floor(n.timestamp.getTime() / 1000)
})

export type Settings = SettingsOf<"generic">

export const Generic: Adapter<Settings> = {
  make: (spec, { budget }) =>
    Effect.gen(function* () {
      const signer = yield* signerFor(spec, spec.secrets["secret"]!)
      const endpoint = `${spec.settings.url}/api/incidents`
      const sender = yield* makeSender(spec, budget, { peer: safeUrl(spec.settings.url), authHint: `check ${spec.path}.secret` })
      const sign = (n: Notification, now: number) => signer.sign(claimsOf(n), now).pipe(Effect.mapError(() => signFailed(sender, n)))
      return {
        name: spec.name,
        target: `generic dashboard at ${safeUrl(spec.settings.url)}`,
        notify: (n) =>
          sender.send(n, (now) =>
            Effect.map(sign(n, now), (token) => ({
              method: "POST",
              url: endpoint,
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              body: JSON.stringify(bodyOf(n))
            }))
          ),
        // The token is signed as for real (a bad key shows now), then dropped.
        rehearse: (n) =>
          Clock.currentTimeMillis.pipe(
            Effect.flatMap((now) => sign(n, now)),
            Effect.as(`POST ${safeUrl(endpoint)} ${JSON.stringify(bodyOf(n))}`)
          )
      }
    })
}
