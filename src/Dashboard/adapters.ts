/**
 * The dashboard adapters by `status_dashboard.type`: the configuration's list
 * of valid types is built from this table's keys, so a new target is one new
 * file in Dashboard/ and one entry here.
 */
import type { Adapter } from "../Dashboard.js"
import * as Generic from "./Generic.js"

export const ADAPTERS = {
  generic: Generic.make
} as const satisfies Record<string, Adapter>

export type DashboardType = keyof typeof ADAPTERS

export const DASHBOARD_TYPES = Object.keys(ADAPTERS) as [DashboardType, ...Array<DashboardType>]
