/**
 * The targets by `type`: the configuration's list of valid types, each
 * type's keys and secrets, and how its port is built all come from this
 * table, so a new target is one new file in Dashboard/ and one entry here.
 */
import type { Adapter } from "../Dashboard.js"
import { Generic } from "./Generic.js"
import { PagerDuty } from "./PagerDuty.js"
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
} as const satisfies Record<string, Adapter>

export type TargetType = keyof typeof ADAPTERS

export const TARGET_TYPES = Object.keys(ADAPTERS) as ReadonlyArray<TargetType>

/** The types `status_dashboard` may be: the dashboards. */
export const DASHBOARD_TYPES = TARGET_TYPES.filter((t) => ADAPTERS[t].kind === "dashboard")
