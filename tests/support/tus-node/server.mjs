// The official tus Node.js server (@tus/server with @tus/file-store) on 127.0.0.1, for the
// interoperability tests. Usage: node server.mjs DIRECTORY [OPTIONS_JSON]
// OPTIONS_JSON may set maxSize (bytes), expirationMs (Upload-Expires on every upload) and
// relativeLocation (Location headers without scheme and host), keepAliveTimeoutMs (how long
// an idle kept-alive connection stays open: Node.js's 5 s unless set). Prints "LISTENING <port>" once
// it accepts connections; stops on SIGTERM.
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const directory = process.argv[2];
const options = JSON.parse(process.argv[3] ?? "{}");
const server = new Server({
  path: "/files",
  datastore: new FileStore({
    directory,
    expirationPeriodInMilliseconds: options.expirationMs ?? 0,
  }),
  maxSize: options.maxSize,
  relativeLocation: options.relativeLocation ?? false,
});
const listening = server.listen({ host: "127.0.0.1", port: 0 }, () => {
  console.log(`LISTENING ${listening.address().port}`);
});
if (options.keepAliveTimeoutMs !== undefined) {
  listening.keepAliveTimeout = options.keepAliveTimeoutMs;
}
process.on("SIGTERM", () => process.exit(0));
