// What every stand-in for qemu-system-x86_64 in the tests shares: reading the arguments the
// engine passed (pidfile, QMP socket, chardev sockets), writing the pidfile, listening on the
// chardev sockets, and serving QMP line by line after the greeting. Each fake decides only how
// to answer a command (`onCommand(msg, conn)`); conn.send writes one JSON line.
//
// Gates, for interleaving tests: with FAKE_QEMU_GATE=<dir>, a file <dir>/hold-<point> (point:
// `greeting` or a QMP command name) makes the fake write <dir>/at-<point> when it gets there and
// hold that reply (only that one: later commands are served) until the hold file is removed.
// <dir>/fail-<command> makes that command answer with a QMP error instead.
'use strict';
const net = require('node:net');
const fs = require('node:fs');

const GREETING = { QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } };

/** The paths a QEMU command line names: `-pidfile`, `-qmp unix:…`, and each `-chardev …,path=…`. */
function readQemuArgs(args) {
  const val = (flag) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const sockOf = (spec) => /(?:unix:|path=)([^,]+)/.exec(spec || '')?.[1];
  return {
    val,
    pidfile: val('-pidfile'),
    qmpPath: sockOf(val('-qmp')),
    chardevPaths: args.filter((a, i) => args[i - 1] === '-chardev').map(sockOf).filter(Boolean),
  };
}

const gateDir = process.env.FAKE_QEMU_GATE;

/** Resolves when the test lets `point` pass (at once when no hold file names it). */
function gate(point) {
  if (!gateDir || !fs.existsSync(`${gateDir}/hold-${point}`)) return Promise.resolve();
  fs.writeFileSync(`${gateDir}/at-${point}`, String(process.pid));
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (fs.existsSync(`${gateDir}/hold-${point}`)) return;
      clearInterval(t);
      resolve();
    }, 10);
  });
}

const failing = (command) => Boolean(gateDir && command && fs.existsSync(`${gateDir}/fail-${command}`));

function listenUnix(path, onConn) {
  fs.rmSync(path, { force: true });
  const server = net.createServer((c) => {
    c.on('error', () => undefined);
    onConn(c);
  });
  server.listen(path);
  return server;
}

/**
 * Writes the pidfile, opens the chardev sockets (accepting and ignoring clients) and serves QMP:
 * greeting, then `onCommand(msg, conn)` per parsed line (unparsable lines are skipped).
 * `conn.send(obj)` writes one JSON line; `conn.event(name, data)` writes a QMP event; `conn.raw`
 * is the socket, for fakes that misbehave on purpose.
 */
function startFakeQemu(args, { onCommand, onConnect, lineEnd = '\n' }) {
  const { pidfile, qmpPath, chardevPaths } = readQemuArgs(args);
  if (pidfile) fs.writeFileSync(pidfile, `${process.pid}\n`);
  for (const p of chardevPaths) listenUnix(p, () => undefined);
  if (!qmpPath) return;
  listenUnix(qmpPath, (c) => {
    const conn = {
      raw: c,
      send: (o) => c.write(JSON.stringify(o) + lineEnd),
      event: (name, data) => conn.send({ event: name, data, timestamp: { seconds: 0, microseconds: 0 } }),
    };
    onConnect?.(conn);
    const greeted = gate('greeting').then(() => conn.send(GREETING));
    let buf = '';
    c.on('data', (d) => {
      buf += d.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg;
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        void greeted
          .then(() => gate(msg.execute))
          .then(() => {
            if (failing(msg.execute)) conn.send({ error: { class: 'GenericError', desc: `${msg.execute} failed (test)` }, id: msg.id });
            else onCommand(msg, conn);
          });
      }
    });
  });
}

module.exports = { readQemuArgs, startFakeQemu };
