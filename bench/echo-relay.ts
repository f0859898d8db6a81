// The echo bench's floor (not a figure of its own): the least any process between a WebSocket
// client and QEMU's console socket can do. A `ws` server on loopback that writes each frame's
// keystrokes to the console socket and sends what comes back as a JSON frame, with no engine
// logic at all (no contract check, routing, scrollback or log). `run-all.ts` times keystrokes
// through it beside the engine and the raw socket, so each run shows how much of the engine's
// echo ratio any separate process would pay on this machine.
//
//   node dist/bench/echo-relay.js SOCKET   → prints {"port":N} once listening, exits when the socket closes
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const sockPath = process.argv[2];
if (!sockPath) {
  process.stderr.write('usage: echo-relay.js SOCKET\n');
  process.exit(2);
}
const sock = connect(sockPath);
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
wss.on('listening', () => process.stdout.write(`${JSON.stringify({ port: (wss.address() as AddressInfo).port })}\n`));
wss.on('connection', (ws) => {
  sock.on('data', (d: Buffer) => ws.send(JSON.stringify({ event: 'console.data', data: d.toString('utf8') })));
  ws.on('message', (m) => {
    const frame = JSON.parse(String(m)) as { data?: unknown };
    if (typeof frame.data === 'string') sock.write(frame.data);
  });
});
sock.on('close', () => process.exit(0));
sock.on('error', (err) => {
  process.stderr.write(`echo-relay: ${err.message}\n`);
  process.exit(1);
});
