/**
 * Any webhook: a cycle's notifications in one POST, `{count, notifications:
 * [<the generic JSON body>]}` (or, with `group: false`, the generic body
 * (docs/protocols.md §2) per notification), POSTed to `url` as it is, with
 * the configured headers; a JWT (over the body) only when a `secret` is set.
 * Header values are treated as secrets (they often are tokens), and so is
 * the URL's path (Discord and Slack-style webhooks carry their token there):
 * messages show only its origin.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import type { Adapter, Delivery, TargetError } from "../Target.js"
import { type Notification, originOf } from "../Domain.js"
import { bodyOf, claimsOf } from "./Generic.js"
import type { SettingsOf } from "./registry.js"
import { makeSender, signerFor, signFailed } from "./Sender.js"

/** Notifications per grouped POST, at most. */
export const GROUP_SIZE = 100

const chunks = <A>(all: ReadonlyArray<A>, size: number): ReadonlyArray<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(all.length / size) }, (_, i) => all.slice(i * size, (i + 1) * size))

export const Webhook: Adapter<SettingsOf<"webhook">> = {
  make: (spec, { budget }) =>
    Effect.gen(function* () {
      const s = spec.settings
      const secret = spec.secrets["secret"]
      const signer = secret === undefined ? undefined : yield* signerFor(spec, secret)
      // Inline and from files alike (the loader merged them).
      const configured = Object.entries(spec.secretMaps["headers"] ?? {})
      const sender = yield* makeSender(spec, budget, { peer: originOf(s.url), authHint: `check ${spec.path}.headers and ${spec.path}.secret` })
      const headers = (n: Notification, now: number, claims: Record<string, unknown> = claimsOf(n)) =>
        Effect.map(
          signer === undefined ? Effect.succeed(undefined) : signer.sign(claims, now).pipe(Effect.mapError(() => signFailed(sender, n))),
          (token): Record<string, string> => ({
            ...Object.fromEntries(configured.map(([name, value]) => [name.toLowerCase(), Redacted.value(value)])),
            ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
            "content-type": "application/json"
          })
        )
      /** `group` (the default): a cycle's notifications in as few POSTs as GROUP_SIZE allows, each `{count, notifications}`, the JWT over the same. */
      const notifyMany = (ns: ReadonlyArray<Notification>, done: (index: number, outcome: Either.Either<Delivery, TargetError>) => Effect.Effect<void>) =>
        Effect.forEach(
          chunks(ns.map((n, index) => ({ n, index })), GROUP_SIZE),
          (chunk) => {
            const body = { count: chunk.length, notifications: chunk.map((c) => bodyOf(c.n)) }
            const claims = { count: chunk.length, notifications: chunk.map((c) => claimsOf(c.n)) }
            const first = chunk[0]!.n
            // Each POST's notifications are recorded as soon as it is answered.
            return Effect.flatMap(
              Effect.either(sender.send(first, (now) => Effect.map(headers(first, now, claims), (h) => ({ method: "POST", url: s.url, headers: h, body: JSON.stringify(body) })))),
              (r) => Effect.forEach(chunk, (c) => done(c.index, r), { discard: true })
            )
          },
          { discard: true }
        )
      return {
        name: spec.name,
        target: `webhook at ${originOf(s.url)}`,
        notify: (n) =>
          sender.send(n, (now) => Effect.map(headers(n, now), (h) => ({ method: "POST", url: s.url, headers: h, body: JSON.stringify(bodyOf(n)) }))),
        ...(s.group ? { notifyMany } : {}),
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
