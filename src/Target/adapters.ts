/**
 * How each target type's port is built, by `type`. The composition
 * (Program.ts) and `validate --connect` pick adapters here; the
 * configuration knows types only from Target/registry.ts, never from this
 * table. The check below keeps the two tables in step: every registered type
 * has an adapter, and each adapter takes the settings its type's fields decode to.
 */
import type { Adapter } from "../Target.js"
import { Generic } from "./Generic.js"
import { PagerDuty } from "./PagerDuty.js"
import type { SettingsOf, TargetType } from "./registry.js"
import { Slack } from "./Slack.js"
import { Stackmon } from "./Stackmon.js"
import { Statuspage } from "./Statuspage.js"
import { Webhook } from "./Webhook.js"

export const ADAPTERS = {
  generic: Generic,
  stackmon: Stackmon,
  statuspage: Statuspage,
  pagerduty: PagerDuty,
  slack: Slack,
  webhook: Webhook
} as const satisfies { readonly [T in TargetType]: Adapter<SettingsOf<T>> }

/** The adapter for a target's type; its settings are what that type's fields decoded. */
export const adapterFor = (type: string): Adapter => ADAPTERS[type as TargetType] as unknown as Adapter
