// Proving that a pid is *our* QEMU before adopting it (never by name): the pid must be
// alive, its /proc/<pid>/exe must be a qemu-system binary, and its command line must name
// this VM's QMP socket path. QMP answering on that socket is checked by the caller.
import { readFile, readlink, readdir } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseProcStat } from './stats';

export interface ProcFs {
  readFile(path: string): Promise<string>;
  readlink(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
}

export const realProcFs: ProcFs = {
  readFile: (p) => readFile(p, 'utf8'),
  readlink: (p) => readlink(p),
  readdir: (p) => readdir(p),
};

/** Alive and not a zombie. kill(pid, 0) alone would count zombies as alive. */
export async function isPidAlive(pid: number, fs: ProcFs = realProcFs): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 1) return false;
  try {
    const st = parseProcStat(await fs.readFile(`/proc/${pid}/stat`));
    return !!st && st.state !== 'Z' && st.state !== 'X';
  } catch {
    return false;
  }
}

export async function readPidFile(path: string): Promise<number | null> {
  try {
    const n = Number((await readFile(path, 'utf8')).trim());
    return Number.isSafeInteger(n) && n > 1 ? n : null;
  } catch {
    return null;
  }
}

export type IdentityVerdict = { ours: true } | { ours: false; why: string };

/** Is `pid` a live qemu-system process started for the VM whose QMP socket is `qmpSock`? */
export async function isOurQemu(pid: number, qmpSock: string, fs: ProcFs = realProcFs): Promise<IdentityVerdict> {
  if (!(await isPidAlive(pid, fs))) return { ours: false, why: `process ${pid} is not running` };
  let exe: string;
  let cmdline: string[];
  try {
    exe = (await fs.readlink(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, '');
    cmdline = (await fs.readFile(`/proc/${pid}/cmdline`)).split('\0');
  } catch (err) {
    return { ours: false, why: `cannot inspect process ${pid}: ${(err as Error).message}` };
  }
  if (!basename(exe).startsWith('qemu-system')) return { ours: false, why: `process ${pid} is ${basename(exe)}, not QEMU` };
  // our -qmp argument exactly (qemu-args writes `unix:<path>,server=on,...` with commas
  // doubled); the path appearing elsewhere (a chardev on that path, a -name) proves nothing
  const ourQmp = `unix:${qmpSock.replaceAll(',', ',,')}`;
  const servesOurQmp = cmdline.some((a, i) => cmdline[i - 1] === '-qmp' && (a === ourQmp || a.startsWith(`${ourQmp},`)));
  if (!servesOurQmp) return { ours: false, why: `process ${pid} is a QEMU of another VM (its -qmp is not this VM's socket)` };
  return { ours: true };
}

/**
 * Find a QEMU whose command line names this QMP socket, for the window where an engine
 * died after spawning QEMU but before QEMU wrote its pidfile. Matching on our own unique
 * socket path (not a process name) is what makes this safe.
 */
export async function findQemuBySocket(qmpSock: string, fs: ProcFs = realProcFs): Promise<number | null> {
  let entries: string[];
  try {
    entries = await fs.readdir('/proc');
  } catch {
    return null;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const cmd = await fs.readFile(`/proc/${pid}/cmdline`);
      if (!cmd.includes(qmpSock)) continue;
    } catch {
      continue;
    }
    if ((await isOurQemu(pid, qmpSock, fs)).ours) return pid;
  }
  return null;
}
