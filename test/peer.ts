/** A loopback HTTP peer that records every request and answers as told: the fake side of the contract tests. */
import type * as http from "node:http"
import { serve } from "./stackmon/serve.js"

export interface Seen {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

export interface Answer {
  readonly status: number
  readonly body?: unknown
  readonly headers?: Record<string, string>
}

export const startPeer = async (answer: (req: Seen, n: number) => Answer = () => ({ status: 200, body: {} })) => {
  let n = 0
  // The same loopback server as the Stackmon references: it records each exchange as it is answered.
  return serve(async (req, body) => {
    const a = answer({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body }, ++n)
    const text = a.body === undefined ? "" : typeof a.body === "string" ? a.body : JSON.stringify(a.body)
    return { status: a.status, body: text, contentType: "application/json", ...(a.headers === undefined ? {} : { headers: a.headers }) }
  })
}
