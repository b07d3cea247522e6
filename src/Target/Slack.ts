/**
 * A Slack incoming webhook (docs/protocols.md §6): one readable message per
 * notification, at most one per second per webhook across the process. The
 * webhook URL is the credential: it is never shown.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { Adapter } from "../Target.js"
import { type Notification, statusLabel } from "../Domain.js"
import { forSecret } from "../RateLimits.js"
import type { SettingsOf } from "./registry.js"
import { makeSender } from "./Sender.js"

/** `*api* in *production* is *degraded* (status 1)`, then why, when the convertor said. */
export const textOf = (n: Notification): string =>
  n.status === 0
    ? `*${n.service.name}* in *${n.service.environment}* has *recovered* (status 0) at ${n.timestamp.toISOString()}`
    : `*${n.service.name}* in *${n.service.environment}* is *${statusLabel(n.status)}* (status ${n.status}) since ${n.timestamp.toISOString()}` +
      (n.why ? `\nWhy: ${n.why}` : "")

export const Slack: Adapter<SettingsOf<"slack">> = {
  make: (spec, { budget }) =>
    Effect.gen(function* () {
      const webhook = spec.secrets["webhook_url"]!
      const limiter = yield* forSecret("slack", webhook, 1, Duration.seconds(1))
      const sender = yield* makeSender(spec, budget, { peer: `its webhook URL (${spec.path}.webhook_url)`, authHint: `check ${spec.path}.webhook_url`, urlKey: `${spec.path}.webhook_url`, gate: limiter })
      const body = (n: Notification) => JSON.stringify({ text: textOf(n) })
      return {
        name: spec.name,
        target: `Slack webhook (${spec.path})`,
        notify: (n) =>
          sender.send(n, () =>
            Effect.succeed({ method: "POST", url: Redacted.value(webhook), headers: { "content-type": "application/json" }, body: body(n) })
          ),
        rehearse: (n) => Effect.succeed(`POST <${spec.path}.webhook_url, redacted> ${body(n)}`)
      }
    })
}
