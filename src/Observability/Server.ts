/**
 * The endpoint's HTTP server: `@effect/platform`'s router served by its Node
 * server, with the bounds a probe endpoint needs on a shared network.
 * Loaded (with prom-client) only when `observability.listen` is set.
 *
 * - One request per connection: every answer says `connection: close`.
 * - Request bodies are never read; a client gets 2 s for its headers and 5 s
 *   for its request (Node's own checks, every 0.5 s), 8 KiB of headers.
 * - At most MAX_CONNECTIONS open; at the cap a new connection displaces the
 *   oldest one that has not even sent a request (Node's `maxConnections`
 *   would refuse the new one instead, so idle sockets could starve the
 *   kubelet's probe); only when every open one is being answered is the new
 *   one closed.
 * - Paths match exactly (the router's defaults ignore case, trailing and
 *   doubled slashes); other paths are 404, other methods 405; HEAD is GET
 *   without the body (the router and the platform do that).
 * - A server error after listening is not the daemon's problem: it is dropped.
 */
import * as http from "node:http"
import type { Socket } from "node:net"
import type { Duplex } from "node:stream"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { type Answer, json } from "./Answer.js"

/** Connections open at once, all clients together. */
export const MAX_CONNECTIONS = 64


const HEADERS = { "cache-control": "no-store", connection: "close" } as const

const respond = (a: Answer, extra: Record<string, string> = {}) =>
  HttpServerResponse.text(a.body, { status: a.status, contentType: a.type ?? "text/plain", headers: { ...HEADERS, ...extra } })

/** The routes: each GET path and what answers it. */
export type Routes<R> = Readonly<Record<string, Effect.Effect<Answer, never, R>>>

const app = <R>(routes: Routes<R>) =>
  Object.entries(routes)
    .reduce(
      (router, [path, answer]) => HttpRouter.get(router, path as HttpRouter.PathInput, Effect.map(answer, (a) => respond(a))),
      HttpRouter.empty as HttpRouter.HttpRouter<never, R>
    )
    .pipe(
      HttpRouter.withRouterConfig({ caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false }),
      Effect.catchTag("RouteNotFound", (e) =>
        Effect.succeed(
          e.request.method === "GET" || e.request.method === "HEAD"
            ? respond(json(404, { status: "not found", reason: `try ${Object.keys(routes).join(", ")}` }))
            : respond(json(405, { status: "method not allowed", reason: "only GET and HEAD" }), { allow: "GET, HEAD" })
        )
      ),
      Effect.catchAllCause(() => Effect.succeed(respond(json(500, { status: "error" }))))
    )

/** Node's server, bounded (see above); `open` tracks each connection and whether it has sent a request. */
const bounded = () => {
  const server = http.createServer({ maxHeaderSize: 8 * 1024, requestTimeout: 5_000, headersTimeout: 2_000, connectionsCheckingInterval: 500 })
  server.setTimeout(5_000, (socket) => socket.destroy())
  const open = new Map<Socket, boolean>()
  server.on("connection", (socket: Socket) => {
    if (open.size >= MAX_CONNECTIONS) {
      const idle = [...open].find(([, requested]) => !requested)?.[0]
      if (idle === undefined) return void socket.destroy()
      idle.destroy()
      open.delete(idle)
    }
    open.set(socket, false)
    socket.once("close", () => open.delete(socket))
  })
  // Registered before the platform's own listeners, so they run first.
  const requested = (req: http.IncomingMessage) => void (open.has(req.socket as Socket) && open.set(req.socket as Socket, true))
  server.on("request", requested)
  server.on("upgrade", requested)
  // Node's own answers to a bad or slow request carry no cache-control: these do.
  server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || error.code === "ECONNRESET") return void socket.destroy()
    const status =
      error.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : "400 Bad Request"
    socket.end(`HTTP/1.1 ${status}\r\ncache-control: no-store\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`, () => socket.destroy())
  })
  server.on("error", () => {})
  return server
}

/** Why it could not listen: the Node error's code (`EADDRINUSE`, ...). */
export class ServeFailed {
  readonly _tag = "ServeFailed"
  constructor(readonly code: string | undefined) {}
}

/**
 * Serves `routes` on `host:port` (port 0: any free one) for the scope's
 * lifetime; the scope's end closes every connection at once. Resolves to
 * where it listens.
 */
export const serve = <R>(
  address: { readonly host: string; readonly port: number },
  routes: Routes<R>
): Effect.Effect<HttpServer.Address, ServeFailed, Scope.Scope | R> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    let server: http.Server | undefined
    const live = HttpServer.serve(app(routes)).pipe(
      Layer.provideMerge(NodeHttpServer.layer(() => (server = bounded()), { port: address.port, ...(address.host === "" ? {} : { host: address.host }) }))
    )
    const context = yield* Layer.buildWithScope(live, scope).pipe(
      Effect.mapError((e) => new ServeFailed((e.cause as NodeJS.ErrnoException | undefined)?.code))
    )
    // Runs before the platform's own release (which only stops accepting): connections held open end now too.
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        if (server === undefined || !server.listening) return resume(Effect.void)
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
    )
    return Context.get(context, HttpServer.HttpServer).address
  })
