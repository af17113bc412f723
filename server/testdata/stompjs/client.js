// A browser STOMP client (@stomp/stompjs) run by node against refbroker's
// ws:// connector, for server/websocket_interop_test.go. node has no
// WebSocket of its own before version 22, so the `ws` package stands in for
// the browser's. stompjs offers v12.stomp, v11.stomp and v10.stomp itself.
//
// Usage: node client.js ws://host:port/ N
// Receives N+1 messages from /queue/to-js (the last one large, so that the
// broker's frame spans WebSocket messages; client acks), sends N to
// /queue/from-js with a receipt each, and prints one JSON line per event.
'use strict';

const { Client } = require('@stomp/stompjs');
Object.assign(global, { WebSocket: require('ws') });

const url = process.argv[2];
const n = Number(process.argv[3] || 3);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const fail = (why) => {
  out({ error: String(why) });
  process.exit(1);
};
setTimeout(() => fail('timed out'), 20000).unref();

const client = new Client({
  brokerURL: url,
  connectHeaders: { login: 'js', passcode: 'js' },
  reconnectDelay: 0,
  heartbeatIncoming: 4000,
  heartbeatOutgoing: 4000,
  onStompError: (f) => fail('ERROR frame: ' + f.headers.message),
  onWebSocketError: (e) => fail('WebSocket error: ' + (e.message || e.type)),
});

client.onConnect = (frame) => {
  out({ connected: frame.headers.version, protocol: client.webSocket.protocol });
  const got = [];
  client.subscribe('/queue/to-js', (m) => {
    // Large bodies are reported by length and content check only.
    const body = m.body.length > 100 && /^x+$/.test(m.body) ? 'x*' + m.body.length : m.body;
    got.push({ body, color: m.headers.color || '' });
    m.ack();
    if (got.length === n + 1) {
      out({ received: got });
      send();
    }
  }, { ack: 'client-individual' });
};

function send() {
  let confirmed = 0;
  for (let i = 0; i < n; i++) {
    const receipt = 'r' + i;
    client.watchForReceipt(receipt, () => {
      if (++confirmed === n) {
        out({ sent: n });
        client.deactivate().then(() => process.exit(0));
      }
    });
    // A multi-byte body: frames carry UTF-8 text.
    client.publish({ destination: '/queue/from-js', body: 'js-' + i + ' \u00e9\u20ac',
      headers: { receipt, color: 'blue', persistent: 'true' } });
  }
}

client.activate();
