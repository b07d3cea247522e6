/**
 * Who holds the lease: unique per process. `POD_NAME` (the downward API, as
 * the ha overlay sets it) names the pod, which two replicas never share (a
 * container restarted in the same pod is the same holder, and goes on
 * leading at once: the one before it is gone); elsewhere the host name and
 * a random suffix.
 */
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"

export const identityOf = (env: Record<string, string | undefined>): string => {
  const pod = env["POD_NAME"]
  return pod !== undefined && pod !== "" ? pod : `${hostname()}_${randomBytes(4).toString("hex")}`
}
