// The demo page: the stock socket.io-client (global `io`) connected to notify-gateway with a JWT,
// showing the connection state and the user's notifications, newest first.
//
// The token comes from the URL fragment (#token=...; a fragment never reaches a server log),
// else from ?token=, else from the form. The gateway URL comes from #gateway= / ?gateway=, else
// from config.json (serve.mjs writes GATEWAY_URL there). #transport=polling|websocket pins one
// transport (the default is the stock client's: polling, then an upgrade to websocket).
"use strict";

(function () {
    const MAX_SHOWN = 200;
    const $ = (id) => document.getElementById(id);
    const fragment = new URLSearchParams(location.hash.slice(1));
    const query = new URLSearchParams(location.search);
    const param = (name) => fragment.get(name) || query.get(name) || "";

    let socket = null;
    const seen = new Set(); // _id of every notification shown: delivery is at-least-once

    function setState(state, detail) {
        $("state").dataset.state = state;
        $("state").textContent = state;
        $("reason").textContent = detail || "";
    }

    /* The user the token names, for display only: the gateway is what verifies it. */
    function tokenUser(token) {
        try {
            const part = token.replace(/^Bearer\s+/i, "").split(".")[1];
            const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
            const claims = JSON.parse(json);
            return typeof claims.sub === "string" ? claims.sub : "(no sub claim)";
        } catch {
            return "(unreadable token)";
        }
    }

    /* Insert time: createdAt when it is a date, else the ObjectId's seconds, else now. */
    function timeOf(doc) {
        const created = typeof doc.createdAt === "string" ? new Date(doc.createdAt) : null;
        if (created && !isNaN(created)) return created;
        if (typeof doc._id === "string" && /^[0-9a-f]{24}$/.test(doc._id)) {
            return new Date(parseInt(doc._id.slice(0, 8), 16) * 1000);
        }
        return new Date();
    }

    function field(tag, cls, text) {
        const el = document.createElement(tag);
        el.className = cls;
        el.textContent = text == null ? "" : String(text); // text only: documents are untrusted
        return el;
    }

    function show(doc) {
        if (!doc || typeof doc !== "object") return;
        if (doc._id != null) {
            if (seen.has(doc._id)) return;
            seen.add(doc._id);
        }
        const li = document.createElement("li");
        if (doc._id != null) li.dataset.id = doc._id;
        const when = timeOf(doc);
        const time = field("time", "time", when.toLocaleTimeString());
        time.dateTime = when.toISOString();
        time.title = when.toISOString();
        li.append(time, field("span", "type", doc.type), field("span", "title", doc.title),
                  field("p", "message", doc.message));
        const list = $("notifications");
        list.prepend(li);
        while (list.children.length > MAX_SHOWN) list.lastElementChild.remove();
        $("count").textContent = String(seen.size);
        $("empty").hidden = true;
    }

    function connect(gatewayUrl, token, eventName, transport) {
        if (socket) socket.close();
        $("user").textContent = tokenUser(token);
        setState("connecting");
        // auth as a function: the stock client calls it again on every reconnection.
        const opts = { auth: (cb) => cb({ token }) };
        if (transport === "polling" || transport === "websocket") opts.transports = [transport];
        socket = io(gatewayUrl, opts);
        socket.on("connect", () => {
            setState("connected", `over ${socket.io.engine.transport.name}`);
            socket.io.engine.once("upgrade", (t) => setState("connected", `over ${t.name}`));
        });
        socket.on("connect_error", (err) => {
            // A rejection by the gateway ends the socket (active is false) and carries a code;
            // a network error leaves it active and the client retries on its own.
            if (socket.active) {
                setState("reconnecting", err.message);
            } else {
                setState("rejected", (err.data && err.data.code) || err.message);
            }
        });
        socket.on("disconnect", (reason) => {
            setState(socket.active ? "reconnecting" : "disconnected", reason);
        });
        socket.io.on("reconnect_attempt", (n) => setState("reconnecting", `attempt ${n}`));
        socket.on(eventName, show);
    }

    async function start() {
        let config = {};
        try {
            config = await (await fetch("config.json", { cache: "no-store" })).json();
        } catch {
            // opened without serve.mjs: the URL must name the gateway
        }
        const gatewayUrl = param("gateway") || config.gatewayUrl || "http://127.0.0.1:3000";
        const eventName = param("event") || config.event || "notification";
        const transport = param("transport");
        $("gateway").textContent = gatewayUrl;
        $("token-form").addEventListener("submit", (e) => {
            e.preventDefault();
            const token = $("token").value.trim();
            if (token) connect(gatewayUrl, token, eventName, transport);
        });
        const token = param("token");
        if (token) {
            connect(gatewayUrl, token, eventName, transport);
        } else {
            setState("idle", "paste a token to connect");
        }
    }

    start();
})();
