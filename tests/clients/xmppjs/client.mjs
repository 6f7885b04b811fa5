// One xmpp.js (@xmpp/client) session with its default settings, for
// tests/integration/test_xmppjs.py: log in, send a chat to a peer, wait
// for the peer's reply, fetch the roster, log out.
//
//   node client.mjs '{"service": "xmpp://127.0.0.1:5222", "domain": ...,
//                     "username": ..., "password": ..., "resource": ...,
//                     "peer": "bob@localhost", "body": ..., "timeout": ms}'
//
// Every line on stdout is one JSON object: {"wire": "in"|"out", "xml"},
// {"status"}, or {"event": "online"|"sent"|"message"|"roster"|"offline"|
// "error", ...}.  The exit status is 0 only when every step worked.

import { client, xml } from "@xmpp/client";

const opts = JSON.parse(process.argv[2]);

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function fail(step, err) {
  out({ event: "error", step, message: String(err?.stack || err) });
  process.exit(1);
}

// The test's own deadline kills us too; this one says which step hung.
let step = "start";
setTimeout(() => fail(step, "timed out"), opts.timeout).unref();

const xmpp = client({
  service: opts.service,
  domain: opts.domain,
  resource: opts.resource,
  username: opts.username,
  password: opts.password,
});

xmpp.on("element", (el) => out({ wire: "in", xml: el.toString() }));
xmpp.on("send", (el) => out({ wire: "out", xml: el.toString() }));
xmpp.on("status", (status) => out({ status }));
xmpp.on("error", (err) => out({ event: "error", step, message: String(err) }));

const reply = new Promise((resolve) => {
  xmpp.on("stanza", (st) => {
    if (!st.is("message") || st.attrs.type !== "chat") return;
    const body = st.getChildText("body");
    if (body !== null && (st.attrs.from || "").split("/")[0] === opts.peer) {
      resolve({ from: st.attrs.from, body });
    }
  });
});

try {
  const address = await xmpp.start();
  out({
    event: "online",
    jid: address.toString(),
    // @xmpp/tls wraps Node's TLSSocket; the WebSocket transport has none.
    tls: xmpp.socket?.socket?.getProtocol?.() ?? null,
    authorized: xmpp.socket?.socket?.authorized ?? null,
  });

  step = "chat";
  await xmpp.send(xml("presence"));
  await xmpp.send(
    xml("message", { type: "chat", to: opts.peer }, xml("body", {}, opts.body)),
  );
  out({ event: "sent" });
  out({ event: "message", ...(await reply) });

  step = "roster";
  const query = await xmpp.iqCaller.get(
    xml("query", { xmlns: "jabber:iq:roster" }),
  );
  out({
    event: "roster",
    items: query.getChildren("item").map((item) => ({
      jid: item.attrs.jid,
      name: item.attrs.name ?? null,
      subscription: item.attrs.subscription ?? null,
      groups: item.getChildren("group").map((g) => g.text()),
    })),
  });

  step = "stop";
  await xmpp.stop();
  out({ event: "offline" });
  process.exit(0);
} catch (err) {
  fail(step, err);
}
