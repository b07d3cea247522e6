/** What both reference servers share: a loopback server that records each exchange and answers what `route` says. */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface Exchange {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
  readonly status: number
}

/**
 * A JSON body, or an HTML page (a string), as the server's framework would
 * send it; or a body already written, with its content type and headers.
 */
export type Answer = { readonly status: number; readonly body: unknown; readonly contentType?: string; readonly headers?: Record<string, string> }

export const serve = async (route: (req: http.IncomingMessage, body: string) => Promise<Answer>) => {
  const seen: Array<Exchange> = []
  const server = http.createServer((req, res) => {
    let text = ""
    req.on("data", (c: Buffer) => (text += c.toString()))
    req.on("end", () => {
      void route(req, text).then((a) => {
        seen.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: text, status: a.status })
        const written = typeof a.body === "string"
        const out = written ? (a.body as string) : JSON.stringify(a.body)
        const type = a.contentType ?? (written ? "text/html" : "application/json")
        res.writeHead(a.status, { "content-type": type, "content-length": Buffer.byteLength(out), ...a.headers })
        res.end(out)
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())))
  }
}
