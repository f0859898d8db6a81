// A stand-in for qemu-system-x86_64 in supervisor unit tests: it reads the same arguments,
// writes the pidfile, serves QMP on the -qmp socket (greeting, capabilities, query-status,
// stop/cont/system_reset/system_powerdown/quit/screendump) and listens on the chardev
// sockets. FAKE_QEMU_MODE picks how it reacts to a powerdown:
//   obedient  → SHUTDOWN event, exit 0          deaf      → ignores powerdown, obeys quit
//   stubborn  → ignores powerdown and quit       failstart → prints an error and exits 1
//   second-press  → ignores the first powerdown (guest still booting), obeys the next
//   bindfail-once → see below
'use strict';
const net = require('node:net');
const fs = require('node:fs');

const args = process.argv.slice(2);
const mode = process.env.FAKE_QEMU_MODE || 'obedient';
let powerdowns = 0;
const val = (flag) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const sockOf = (spec) => /(?:unix:|path=)([^,]+)/.exec(spec || '')?.[1];

// bindfail-once: the first start loses its first forwarded port to someone else (as if taken
// between the allocator's probe and QEMU's bind); later starts work
const once = process.env.FAKE_QEMU_ONCE;
if (mode === 'bindfail-once' && once && !fs.existsSync(once)) {
  fs.writeFileSync(once, 'x');
  const rule = /hostfwd=(tcp|udp):127\.0\.0\.1:(\d+)-:(\d+)/.exec(val('-netdev') || '');
  if (rule) {
    process.stderr.write(`qemu-system-x86_64: -netdev ${val('-netdev')}: Could not set up host forwarding rule '${rule[1]}:127.0.0.1:${rule[2]}-:${rule[3]}'\n`);
    process.exit(1);
  }
}
if (mode === 'failstart') {
  process.stderr.write("qemu-system-x86_64: -netdev user,id=n0,hostfwd=tcp:127.0.0.1:41234-:22: Could not set up host forwarding rule 'tcp:127.0.0.1:41234-:22'\n");
  process.exit(1);
}

const pidfile = val('-pidfile');
if (pidfile) fs.writeFileSync(pidfile, `${process.pid}\n`);
let running = true;
const exit = (code) => {
  process.exit(code);
};

const qmpPath = sockOf(val('-qmp'));
const qmp = net.createServer((c) => {
  const send = (o) => c.write(JSON.stringify(o) + '\r\n');
  const event = (name, data) => send({ event: name, data, timestamp: { seconds: 0, microseconds: 0 } });
  send({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: [] } });
  let buf = '';
  c.on('data', (d) => {
    buf += d.toString();
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
      const reply = (ret) => send({ return: ret ?? {}, id: msg.id });
      switch (msg.execute) {
        case 'query-status':
          reply({ status: running ? 'running' : 'paused', running });
          break;
        // like QEMU, the event goes out before the command's return
        case 'stop':
          running = false;
          event('STOP', {});
          reply();
          break;
        case 'cont':
          running = true;
          event('RESUME', {});
          reply();
          break;
        case 'system_reset':
          reply();
          event('RESET', { guest: false, reason: 'host-qmp-system-reset' });
          break;
        case 'system_powerdown':
          reply();
          powerdowns += 1;
          if (mode === 'obedient' || (mode === 'second-press' && powerdowns >= 2)) {
            setTimeout(() => {
              event('SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
              setTimeout(() => exit(0), 20);
            }, 50);
          }
          break;
        case 'quit':
          reply();
          if (mode !== 'stubborn') setTimeout(() => exit(0), 20);
          break;
        default:
          reply();
      }
    }
  });
  c.on('error', () => undefined);
});
qmp.listen(qmpPath);
for (const spec of args.filter((a, i) => args[i - 1] === '-chardev')) {
  const p = sockOf(spec);
  if (p) net.createServer((c) => c.on('error', () => undefined)).listen(p);
}
process.stderr.write(`fake qemu ${process.pid} up (${mode})\n`);
setInterval(() => undefined, 1 << 30);
