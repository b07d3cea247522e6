// Wiring only: Node's file system and HTTP transport under the CLI. Loaded by main.ts.
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Runtime from "@effect/platform/Runtime"
import { cli } from "./Cli.js"
import * as Hangups from "./Hangups.js"
import * as NodeTransport from "./Transport/Node.js"
import * as Shutdown from "./Shutdown.js"

const MainLive = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTransport.layer)

Hangups.watch()
Shutdown.watchStopSignals()
NodeRuntime.runMain(cli(process.argv, process.env).pipe(Effect.provide(MainLive)), {
  disablePrettyLogger: true,
  teardown: (exit, onExit) =>
    Exit.isSuccess(exit) && typeof exit.value === "number"
      ? onExit(exit.value)
      : Exit.isInterrupted(exit)
        ? onExit(Shutdown.interruptedExitCode())
        : Runtime.defaultTeardown(exit, onExit)
})
