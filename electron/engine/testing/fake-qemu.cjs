// A stand-in for qemu-system-x86_64 in supervisor unit tests: it reads the same arguments,
// writes the pidfile, serves QMP on the -qmp socket (greeting, capabilities, query-status,
// stop/cont/system_reset/system_powerdown/quit/screendump) and listens on the chardev
// sockets. FAKE_QEMU_MODE picks how it reacts to a powerdown:
//   obedient  → SHUTDOWN event, exit 0          deaf      → ignores powerdown, obeys quit
//   stubborn  → ignores powerdown and quit       failstart → prints an error and exits 1
//   second-press  → ignores the first powerdown (guest still booting), obeys the next
//   bindfail-once → see below
'use strict';
const fs = require('node:fs');
const { readQemuArgs, startFakeQemu } = require('./fake-qemu-kit.cjs');

const args = process.argv.slice(2);
const mode = process.env.FAKE_QEMU_MODE || 'obedient';
let powerdowns = 0;
const { val } = readQemuArgs(args);

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

let running = true;
const exit = (code) => {
  process.exit(code);
};

startFakeQemu(args, {
  lineEnd: '\r\n',
  onCommand(msg, conn) {
    const reply = (ret) => conn.send({ return: ret ?? {}, id: msg.id });
    switch (msg.execute) {
      case 'query-status':
        reply({ status: running ? 'running' : 'paused', running });
        break;
      // like QEMU, the event goes out before the command's return
      case 'stop':
        running = false;
        conn.event('STOP', {});
        reply();
        break;
      case 'cont':
        running = true;
        conn.event('RESUME', {});
        reply();
        break;
      case 'system_reset':
        reply();
        conn.event('RESET', { guest: false, reason: 'host-qmp-system-reset' });
        break;
      case 'system_powerdown':
        reply();
        powerdowns += 1;
        if (mode === 'obedient' || (mode === 'second-press' && powerdowns >= 2)) {
          setTimeout(() => {
            conn.event('SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
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
  },
});
process.stderr.write(`fake qemu ${process.pid} up (${mode})\n`);
setInterval(() => undefined, 1 << 30);
