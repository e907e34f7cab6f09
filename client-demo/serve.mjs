#!/usr/bin/env node
// The demo page's web server: a fixed set of files and nothing else, for local development.
//
//   DEMO_HOST    address to listen on (default 127.0.0.1)
//   DEMO_PORT    port (default 8080; 0 picks a free one)
//   GATEWAY_URL  the notify-gateway the page connects to (default http://127.0.0.1:3000)
//   NOTIFICATION_EVENT  the event the page listens to (default notification, as the gateway's)
//
// The browser loads the stock socket.io-client bundle from node_modules (no CDN). The page is
// on another origin than the gateway, so the gateway must list this origin in CORS_ORIGINS for
// the polling transport (make run does). Once listening it prints one line:
//   client-demo listening on http://127.0.0.1:8080

import { readFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const sioDist = path.join(
    path.dirname(createRequire(import.meta.url).resolve("socket.io-client/package.json")),
    "dist",
);

const host = process.env.DEMO_HOST || "127.0.0.1";
const port = Number(process.env.DEMO_PORT ?? 8080);
const gatewayUrl = process.env.GATEWAY_URL || "http://127.0.0.1:3000";
const event = process.env.NOTIFICATION_EVENT || "notification";

if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`client-demo: DEMO_PORT must be a port number (0..65535), not ${process.env.DEMO_PORT}`);
    process.exit(2);
}
try {
    const u = new URL(gatewayUrl);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
} catch {
    console.error(`client-demo: GATEWAY_URL must be an http:// or https:// URL, not ${gatewayUrl}`);
    process.exit(2);
}

// Read once at start: a missing file fails now, not on the first request.
const files = new Map(
    [
        ["/", path.join(here, "index.html"), "text/html; charset=utf-8"],
        ["/app.js", path.join(here, "app.js"), "text/javascript; charset=utf-8"],
        ["/style.css", path.join(here, "style.css"), "text/css; charset=utf-8"],
        ["/vendor/socket.io.min.js", path.join(sioDist, "socket.io.min.js"), "text/javascript; charset=utf-8"],
        ["/vendor/socket.io.min.js.map", path.join(sioDist, "socket.io.min.js.map"), "application/json"],
    ].map(([route, file, type]) => [route, { body: readFileSync(file), type }]),
);
files.set("/index.html", files.get("/"));
files.set("/config.json", {
    body: Buffer.from(JSON.stringify({ gatewayUrl, event })),
    type: "application/json",
});

const server = http.createServer((req, res) => {
    const route = new URL(req.url, "http://x").pathname;
    const file = files.get(route);
    const headers = { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" };
    if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { ...headers, Allow: "GET, HEAD" }).end();
    } else if (!file) {
        res.writeHead(404, { ...headers, "Content-Type": "text/plain" }).end("not found\n");
    } else {
        res.writeHead(200, { ...headers, "Content-Type": file.type, "Content-Length": file.body.length });
        res.end(req.method === "HEAD" ? undefined : file.body);
    }
});

server.on("error", (err) => {
    console.error(`client-demo: cannot listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
});
server.listen(port, host, () => {
    const { port: bound } = server.address();
    const shown = host.includes(":") ? `[${host}]` : host;
    console.log(`client-demo listening on http://${shown}:${bound}`);
});

for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => {
        server.close();
        server.closeAllConnections();
        process.exit(0);
    });
}
