// A child that must not outlive a killed engine runs under setpriv (util-linux), which sets
// PR_SET_PDEATHSIG before it execs the program: the kernel kills it when the engine dies, even by
// kill -9. (The program keeps setpriv's pid: setpriv execs, it does not fork.) Used for:
// - long qemu-img runs that write into a staging directory the next engine sweeps (images.ts);
// - a libvirt host's long-lived helpers: the event stream's virsh, the console's helper (or script + virsh),
//   and the ssh master. Without it each killed engine left them behind, the event stream's until
//   the next event on that host (for ever on a quiet one) and the ssh master for good.
// Without setpriv the program runs as before.
import { existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';
const haveSetpriv = existsSync(SETPRIV);

/** The command and arguments that run `cmd args` so that it dies with this process. */
export function diesWithEngine(cmd: string, args: readonly string[]): [string, string[]] {
  return haveSetpriv ? [SETPRIV, ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, [...args]];
}
