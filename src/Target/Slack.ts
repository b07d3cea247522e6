/**
 * A Slack incoming webhook (docs/protocols.md §6): one readable message per
 * notification, at most one per second per webhook across the process. The
 * webhook URL is the credential: it is never shown.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { Adapter } from "../Target.js"
import { clip, type Notification, statusLabel } from "../Domain.js"
import { forSecret } from "../RateLimits.js"
import type { SettingsOf } from "./registry.js"
import { makeSender } from "./Sender.js"

/**
 * Slack reads `&`, `<` and `>` as control characters (`<!channel>` notifies
 * everyone, `<http://x|text>` is a link): in text we did not write they are
 * escaped, as Slack's "Formatting text for app surfaces" documents.
 */
export const escape = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/**
 * Each field from the convertor or the configuration at most this long. Slack
 * documents 40,000 characters for a message's text and truncates past it;
 * a readable alert needs far less, and a few fields must fit.
 */
export const MAX_FIELD = 1000

const field = (text: string) => escape(clip(text, MAX_FIELD))

/** `*api* in *production* is *degraded* (status 1)`, then why, when the convertor said. */
export const textOf = (n: Notification): string =>
  n.status === 0
    ? `*${field(n.service.name)}* in *${field(n.service.environment)}* has *recovered* (status 0) at ${n.timestamp.toISOString()}`
    : `*${field(n.service.name)}* in *${field(n.service.environment)}* is *${statusLabel(n.status)}* (status ${n.status}) since ${n.timestamp.toISOString()}` +
      (n.why ? `\nWhy: ${field(n.why)}` : "")

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
