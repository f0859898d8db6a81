// Where a default-guest boot spends its time, from the guest's own clocks: booted the way
// bench/boot.ts boots it (guest-launcher, boot profile), then asked through its agent for its
// uptime and the kernel log's "Run /init" stamp. Host wall time − guest uptime is what happened
// before the guest kernel's clock started (QEMU start-up, firmware, loading the kernel).
import { readFileSync } from 'node:fs';
import { AgentClient } from '../../electron/engine/agent-client';
import { launchGuest } from '../../electron/engine/guest/guest-launcher';

export interface BootBreakdown {
  totalMs: number;
  /** spawn → guest kernel clock starts (QEMU, firmware, kernel load) */
  beforeKernelMs: number;
  /** kernel start → "Run /init as init process" */
  kernelMs: number;
  /** /init → agent answered */
  initToAgentMs: number;
  /** QEMU's CPU time (user+sys) up to agent-ready: a 1-vCPU TCG boot is CPU-bound when it is close to totalMs */
  qemuCpuMs: number | null;
}

/** A process's CPU time so far split into user and kernel (all threads), in ms. */
export function cpuSplitMs(pid: number): { user: number; sys: number } | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return { user: (Number(f[11]) * 1000) / 100, sys: (Number(f[12]) * 1000) / 100 };
  } catch {
    return null;
  }
}

/** CPU time (user + sys, all threads) a process has used so far, in ms. */
export function cpuMs(pid: number): number | null {
  const t = cpuSplitMs(pid);
  return t && t.user + t.sys;
}

export async function bootBreakdown(dir: string): Promise<BootBreakdown> {
  const t0 = performance.now();
  const g = await launchGuest({ dir, name: 'bench' });
  try {
    let agent: AgentClient | null = null;
    while (!agent) {
      try {
        agent = await AgentClient.connect(g.agentSock, { timeoutMs: 120_000 });
        await agent.ping(120_000);
      } catch {
        agent?.close();
        agent = null;
        if (g.proc.exitCode !== null) throw new Error(`guest exited during boot: ${g.stderr().slice(-300)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    const totalMs = performance.now() - t0;
    const qemuCpuMs = cpuMs(g.proc.pid!);
    const e0 = performance.now();
    const r = await agent.exec(['/bin/sh', '-c', 'cat /proc/uptime; dmesg | grep -m1 "Run /init"']);
    const execMs = performance.now() - e0;
    agent.close();
    const uptimeS = Number(/^([\d.]+)/.exec(r.stdout)?.[1]);
    const initS = Number(/\[\s*([\d.]+)\]\s+Run \/init/.exec(r.stdout)?.[1]);
    if (!Number.isFinite(uptimeS) || !Number.isFinite(initS)) throw new Error(`unexpected guest answer: ${r.stdout.slice(0, 200)}`);
    // the uptime was read about half an exec round trip after ready
    const guestAtReadyMs = uptimeS * 1000 - execMs / 2;
    return { totalMs, beforeKernelMs: totalMs - guestAtReadyMs, kernelMs: initS * 1000, initToAgentMs: guestAtReadyMs - initS * 1000, qemuCpuMs };
  } finally {
    await g.dispose();
  }
}
