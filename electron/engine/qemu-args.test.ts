import { describe, expect, it } from 'vitest';
import type { PortEntry } from '../../shared/contract';
import { vmSpecSchema, type VmSpec } from '../../shared/spec';
import { buildQemuArgs, consoleAndAgentArgs, consoleDropsWhenSlow, parseHostfwds, SANDBOX_OPTS, shareListText, type QemuResources } from './qemu-args';

const ID = 'abcdef123456';
const RUN = `/h/run/${ID}`;
const VMDIR = `/h/vms/${ID}`;

function spec(over: Record<string, unknown>): VmSpec {
  return vmSpecSchema.parse({ id: ID, name: 'web-1', createdAt: '2026-01-01T00:00:00Z', source: { kind: 'default' }, ...over });
}

function res(over: Partial<QemuResources> = {}): QemuResources {
  return {
    accel: 'tcg',
    qmpSock: `${RUN}/qmp.sock`,
    serialSock: `${RUN}/ser.sock`,
    agentSock: `${RUN}/qga.sock`,
    vncSock: `${RUN}/vnc.sock`,
    pidFile: `${RUN}/qemu.pid`,
    vmDir: VMDIR,
    forwards: [],
    defaultGuest: { kernel: '/img/vmlinuz', initrd: '/img/initrd', append: 'console=ttyS0' },
    ...over,
  };
}

const fwd = (proto: 'tcp' | 'udp', hostPort: number, guestPort: number): PortEntry => ({
  vmId: ID,
  purpose: 'forward',
  proto,
  hostPort,
  guestPort,
  host: '127.0.0.1',
});

/** The value following each occurrence of `flag`. */
function values(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

/** `flag value` appears as a pair. */
function hasPair(args: string[], flag: string, value: string): boolean {
  return values(args, flag).includes(value);
}

describe('buildQemuArgs: always-on hardening and identity', () => {
  const kinds: Array<[string, Record<string, unknown>, Partial<QemuResources>]> = [
    ['default', {}, {}],
    ['iso', { source: { kind: 'iso', path: '/isos/a.iso' }, disks: ['disk.qcow2'] }, {}],
    ['disk copy', { source: { kind: 'disk', path: '/d/a.qcow2', mode: 'copy' }, disks: ['disk.qcow2'] }, {}],
    ['disk reference', { source: { kind: 'disk', path: '/d/a.img', mode: 'reference' } }, { referenceDiskFormat: 'raw' }],
    ['kernel', { source: { kind: 'kernel', kernel: '/k/vmlinuz' } }, {}],
  ];
  it.each(kinds)('%s: -nodefaults -no-user-config -sandbox, identifiable name, pidfile, unix QMP only', (_n, s, r) => {
    const args = buildQemuArgs(spec(s), res(r));
    expect(args).toContain('-nodefaults');
    expect(args).toContain('-no-user-config');
    expect(hasPair(args, '-sandbox', SANDBOX_OPTS)).toBe(true);
    expect(SANDBOX_OPTS).toBe('on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny');
    expect(hasPair(args, '-name', `guest=web-1,process=flotilla-${ID}`)).toBe(true);
    expect(hasPair(args, '-pidfile', `${RUN}/qemu.pid`)).toBe(true);
    expect(values(args, '-qmp')).toEqual([`unix:${RUN}/qmp.sock,server=on,wait=off`]);
    expect(args.join(' ')).not.toMatch(/tcp:[^,]*,server|telnet|-monitor|-gdb/);
  });
});

describe('buildQemuArgs: sources', () => {
  const table: Array<{ name: string; spec: Record<string, unknown>; r?: Partial<QemuResources>; want: string[][]; absent?: string[] }> = [
    {
      name: 'default guest boots the bundled kernel on the helper-chosen machine',
      spec: {},
      r: { defaultGuest: { kernel: '/img/vmlinuz', initrd: '/img/initrd', append: 'console=ttyS0 quiet', machine: 'microvm' } },
      want: [
        ['-machine', 'microvm'],
        ['-kernel', '/img/vmlinuz'],
        ['-initrd', '/img/initrd'],
        ['-append', 'console=ttyS0 quiet'],
        ['-device', 'virtio-net-device,netdev=n0'],
        ['-device', 'virtio-serial-device,id=vser0'],
      ],
      absent: ['-drive', '-no-reboot'],
    },
    {
      name: 'default guest without a machine uses q35 and PCI devices',
      spec: {},
      want: [
        ['-machine', 'q35'],
        ['-device', 'virtio-net-pci,netdev=n0'],
      ],
    },
    {
      name: 'iso: blank owned qcow2 disk first, CD second (blank disk falls through to the CD)',
      spec: { source: { kind: 'iso', path: '/isos/a,b.iso', diskSizeGiB: 8 }, disks: ['disk.qcow2'] },
      want: [
        ['-machine', 'q35'],
        ['-blockdev', `driver=file,filename=${VMDIR}/disk.qcow2,node-name=disk0-file,discard=unmap`],
        ['-blockdev', 'driver=qcow2,file=disk0-file,node-name=disk0-fmt,discard=unmap'],
        ['-device', 'virtio-blk-pci,drive=disk0-fmt,id=disk0,write-cache=on,bootindex=0'],
        ['-blockdev', 'driver=file,filename=/isos/a,,b.iso,node-name=cd0-file,read-only=on'],
        ['-blockdev', 'driver=raw,file=cd0-file,node-name=cd0-fmt,read-only=on'],
        ['-device', 'ide-cd,drive=cd0-fmt,id=cd0,bus=ide.0,bootindex=1'],
      ],
      absent: ['-kernel'],
    },
    {
      name: 'disk copy uses the VM-owned qcow2',
      spec: { source: { kind: 'disk', path: '/user/a.img', mode: 'copy' }, disks: ['disk.qcow2'] },
      want: [
        ['-blockdev', `driver=file,filename=${VMDIR}/disk.qcow2,node-name=disk0-file,discard=unmap`],
        ['-blockdev', 'driver=qcow2,file=disk0-file,node-name=disk0-fmt,discard=unmap'],
        ['-device', 'virtio-blk-pci,drive=disk0-fmt,id=disk0,write-cache=on,bootindex=0'],
      ],
    },
    {
      name: 'disk reference uses the user file with its detected format',
      spec: { source: { kind: 'disk', path: '/user/a.img', mode: 'reference' } },
      r: { referenceDiskFormat: 'raw' },
      want: [
        ['-blockdev', `driver=file,filename=/user/a.img,node-name=disk0-file,discard=unmap`],
        ['-blockdev', 'driver=raw,file=disk0-file,node-name=disk0-fmt,discard=unmap'],
        ['-device', 'virtio-blk-pci,drive=disk0-fmt,id=disk0,write-cache=on,bootindex=0'],
      ],
    },
    {
      name: 'kernel without disk',
      spec: { source: { kind: 'kernel', kernel: '/k/vmlinuz', initrd: '/k/initrd.gz', append: 'console=ttyS0' } },
      want: [
        ['-kernel', '/k/vmlinuz'],
        ['-initrd', '/k/initrd.gz'],
        ['-append', 'console=ttyS0'],
      ],
      absent: ['-drive', '-blockdev'],
    },
    {
      name: 'kernel with a disk and no initrd/append',
      spec: { source: { kind: 'kernel', kernel: '/k/vmlinuz', disk: '/k/root.qcow2' } },
      r: { referenceDiskFormat: 'qcow2' },
      want: [
        ['-kernel', '/k/vmlinuz'],
        ['-blockdev', `driver=file,filename=/k/root.qcow2,node-name=disk0-file,discard=unmap`],
        ['-blockdev', 'driver=qcow2,file=disk0-file,node-name=disk0-fmt,discard=unmap'],
        ['-device', 'virtio-blk-pci,drive=disk0-fmt,id=disk0,write-cache=on'],
      ],
      absent: ['-initrd', '-append'],
    },
  ];
  it.each(table)('$name', ({ spec: s, r, want, absent }) => {
    const args = buildQemuArgs(spec(s), res(r));
    for (const [flag, value] of want) expect(values(args, flag!), `${flag} ${value}`).toContain(value);
    for (const flag of absent ?? []) expect(args).not.toContain(flag);
  });

  it('refuses a reference disk whose format was not detected (never guesses raw)', () => {
    expect(() => buildQemuArgs(spec({ source: { kind: 'disk', path: '/u/a.img', mode: 'reference' } }), res())).toThrow(/format of \/u\/a.img/);
  });

  it('names the fix when the default guest image is missing', () => {
    expect(() => buildQemuArgs(spec({}), res({ defaultGuest: undefined }))).toThrow(/flotilla image build-default/);
  });
});

describe('buildQemuArgs: machine, sizing, firmware', () => {
  it('passes cpus and memory', () => {
    const args = buildQemuArgs(spec({ cpus: 4, memoryMiB: 2048 }), res());
    expect(hasPair(args, '-m', '2048')).toBe(true);
    expect(hasPair(args, '-smp', '4')).toBe(true);
  });

  it.each([
    ['tcg', ['tcg'], undefined],
    ['kvm', ['kvm'], 'host'],
    ['kvm:tcg', ['kvm', 'tcg'], 'max'],
  ] as const)('accel %s', (accel, accels, cpu) => {
    const args = buildQemuArgs(spec({}), res({ accel }));
    expect(values(args, '-accel')).toEqual(accels);
    expect(values(args, '-cpu')).toEqual(cpu ? [cpu] : []);
  });

  it('the default guest boot profile can ask for TCG properties and -no-reboot; other sources never get them', () => {
    const g = { kernel: '/k', initrd: '/i', append: '', noReboot: true, tcgAccelProps: 'tb-size=64', tcgCpu: 'max' };
    const args = buildQemuArgs(spec({}), res({ defaultGuest: g }));
    expect(values(args, '-accel')).toEqual(['tcg,tb-size=64']);
    expect(values(args, '-cpu')).toEqual(['max']);
    expect(args).toContain('-no-reboot');
    const other = buildQemuArgs(spec({ source: { kind: 'kernel', kernel: '/k' } }), res({ defaultGuest: g }));
    expect(values(other, '-accel')).toEqual(['tcg']);
    expect(values(other, '-cpu')).toEqual([]);
    expect(other).not.toContain('-no-reboot');
  });

  it('the default guest boots with its own -bios firmware (qboot) under BIOS only; other sources keep SeaBIOS', () => {
    const g = { kernel: '/k', initrd: '/i', append: '', bios: 'qboot.rom', uefiKernel: '/bz' };
    expect(values(buildQemuArgs(spec({}), res({ defaultGuest: g })), '-bios')).toEqual(['qboot.rom']);
    expect(values(buildQemuArgs(spec({ firmware: 'uefi' }), res({ defaultGuest: g })), '-bios')).toEqual([]);
    expect(values(buildQemuArgs(spec({ source: { kind: 'kernel', kernel: '/k' } }), res({ defaultGuest: g })), '-bios')).toEqual([]);
  });

  it('a default guest whose manifest says hvc0 gets its console as the first virtio console port and its UART on uart.sock; other sources keep the UART as the console', () => {
    const g = { kernel: '/k', initrd: '/i', append: 'console=hvc0', console: 'hvc0' as const };
    const args = buildQemuArgs(spec({}), res({ defaultGuest: g }));
    expect(values(args, '-serial')).toEqual(['chardev:uart0']);
    expect(values(args, '-chardev')).toContain(`socket,id=uart0,path=${RUN}/uart.sock,server=on,wait=off`);
    const devices = values(args, '-device');
    const bus = devices.findIndex((d) => d.endsWith(',id=vser0'));
    const con = devices.indexOf('virtconsole,bus=vser0.0,chardev=ser0,name=org.flotilla.console.0');
    const agent = devices.findIndex((d) => d.includes('name=org.qemu.guest_agent.0'));
    expect(bus).toBeGreaterThanOrEqual(0);
    expect(con).toBeGreaterThan(bus);
    expect(agent).toBeGreaterThan(con); // the console is port 0, so the guest names it hvc0
    expect(values(args, '-chardev').filter((c) => c.startsWith('socket,id=ser0,'))).toHaveLength(1);
    const other = buildQemuArgs(spec({ source: { kind: 'kernel', kernel: '/k' } }), res({ defaultGuest: g }));
    expect(values(other, '-serial')).toEqual(['chardev:ser0']);
    expect(values(other, '-device').some((d) => d.startsWith('virtconsole'))).toBe(false);
    const older = buildQemuArgs(spec({}), res({ defaultGuest: { ...g, console: 'ttyS0' } }));
    expect(values(older, '-serial')).toEqual(['chardev:ser0']);
  });

  it("a default guest whose manifest says vport gets its console as a plain virtio-serial port (throttled by QEMU, never dropped) and its UART on uart.sock", () => {
    const g = { kernel: '/k', initrd: '/i', append: 'console=ttyS0', console: 'vport' as const };
    const args = buildQemuArgs(spec({}), res({ defaultGuest: g }));
    expect(values(args, '-serial')).toEqual(['chardev:uart0']);
    expect(values(args, '-chardev')).toContain(`socket,id=uart0,path=${RUN}/uart.sock,server=on,wait=off`);
    const devices = values(args, '-device');
    expect(devices).toContain('virtserialport,bus=vser0.0,chardev=ser0,name=org.flotilla.console.0');
    expect(devices.some((d) => d.startsWith('virtconsole'))).toBe(false);
  });

  it('bios adds no pflash', () => {
    expect(buildQemuArgs(spec({ firmware: 'bios' }), res()).join(' ')).not.toContain('pflash');
  });

  it('uefi: read-only OVMF code and the per-VM qcow2 vars, as named nodes on the machine\'s pflash', () => {
    const args = buildQemuArgs(spec({ firmware: 'uefi', source: { kind: 'kernel', kernel: '/k' } }), res());
    expect(values(args, '-machine')).toEqual(['q35,pflash0=pflash0-fmt,pflash1=pflash1-fmt']);
    expect(values(args, '-blockdev')).toEqual([
      'driver=file,filename=/usr/share/OVMF/OVMF_CODE_4M.fd,node-name=pflash0-file,read-only=on',
      'driver=raw,file=pflash0-file,node-name=pflash0-fmt,read-only=on',
      `driver=file,filename=${VMDIR}/ovmf-vars.qcow2,node-name=pflash1-file,discard=unmap`,
      'driver=qcow2,file=pflash1-file,node-name=pflash1-fmt,discard=unmap',
    ]);
    expect(args).not.toContain('-drive');
    const custom = buildQemuArgs(spec({ firmware: 'uefi', source: { kind: 'kernel', kernel: '/k' } }), res({ ovmfCode: '/fw/c.fd', ovmfVars: '/fw/v,x.qcow2' }));
    expect(values(custom, '-blockdev')[2]).toBe('driver=file,filename=/fw/v,,x.qcow2,node-name=pflash1-file,discard=unmap');
  });

  it('built-in Linux: its own disk (serial flotilla-root, not a boot device), the SSH keys by fw_cfg, the bzImage under UEFI', () => {
    const g = { kernel: '/img/vmlinuz', initrd: '/img/initrd', append: 'quiet', uefiKernel: '/img/bzImage' };
    const args = buildQemuArgs(spec({ disks: ['disk.qcow2'] }), res({ defaultGuest: g, authorizedKeys: '/h/vms/x,y/authorized_keys' }));
    expect(values(args, '-blockdev')).toEqual([
      `driver=file,filename=${VMDIR}/disk.qcow2,node-name=disk0-file,discard=unmap`,
      'driver=qcow2,file=disk0-file,node-name=disk0-fmt,discard=unmap',
    ]);
    expect(values(args, '-device')).toContain('virtio-blk-pci,drive=disk0-fmt,id=disk0,write-cache=on,serial=flotilla-root');
    expect(values(args, '-fw_cfg')).toEqual(['name=opt/org.flotilla/authorized_keys,file=/h/vms/x,,y/authorized_keys']);
    expect(values(args, '-kernel')).toEqual(['/img/vmlinuz']);
    const efi = buildQemuArgs(spec({ disks: ['disk.qcow2'], firmware: 'uefi' }), res({ defaultGuest: g }));
    expect(values(efi, '-kernel')).toEqual(['/img/bzImage']);
    expect(values(efi, '-fw_cfg')).toEqual([]);
    // a guest image from before UEFI support has no EFI-bootable kernel: say how to fix it
    expect(() => buildQemuArgs(spec({ firmware: 'uefi' }), res({ defaultGuest: { ...g, uefiKernel: undefined } }))).toThrow(/rebuild it with `flotilla image build-default`/);
  });

  it('no disk kind uses -drive, and a format name that is not one word is refused', () => {
    for (const s of [{ source: { kind: 'iso', path: '/i.iso' }, disks: ['disk.qcow2'] }, { source: { kind: 'disk', path: '/d.qcow2', mode: 'copy' }, disks: ['disk.qcow2'] }]) {
      expect(buildQemuArgs(spec(s), res())).not.toContain('-drive');
    }
    expect(() => buildQemuArgs(spec({ source: { kind: 'disk', path: '/d.img', mode: 'reference' } }), res({ referenceDiskFormat: 'raw,file.x=y' }))).toThrow(/not a disk format name/);
  });

  it('start paused adds -S', () => {
    expect(buildQemuArgs(spec({}), res({ startPaused: true }))).toContain('-S');
    expect(buildQemuArgs(spec({}), res())).not.toContain('-S');
  });
});

describe('buildQemuArgs: chardevs, network, display', () => {
  it('serial and guest agent are unix socket servers that do not wait', () => {
    const args = buildQemuArgs(spec({}), res());
    expect(values(args, '-chardev')).toEqual([
      `socket,id=ser0,path=${RUN}/ser.sock,server=on,wait=off`,
      `socket,id=qga0,path=${RUN}/qga.sock,server=on,wait=off`,
    ]);
    expect(hasPair(args, '-serial', 'chardev:ser0')).toBe(true);
    expect(hasPair(args, '-device', 'virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0')).toBe(true);
  });

  it('tcp and udp forwards always bind 127.0.0.1; display-proxy entries are not forwards', () => {
    const proxy: PortEntry = { vmId: ID, purpose: 'display-proxy', proto: 'tcp', hostPort: 40010, host: '127.0.0.1' };
    const args = buildQemuArgs(spec({}), res({ forwards: [fwd('tcp', 40001, 22), fwd('udp', 40002, 53), proxy] }));
    expect(values(args, '-netdev')).toEqual(['user,id=n0,hostfwd=tcp:127.0.0.1:40001-:22,hostfwd=udp:127.0.0.1:40002-:53']);
  });

  it("the VM's identity: -uuid and the NIC's mac= from its spec; none given, QEMU's defaults", () => {
    const uuid = '0b6f1e2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
    const args = buildQemuArgs(spec({ mac: '52:54:00:ab:cd:ef', uuid }), res());
    expect(values(args, '-uuid')).toEqual([uuid]);
    expect(values(args, '-device').filter((d) => d.startsWith('virtio-net'))).toEqual(['virtio-net-pci,netdev=n0,mac=52:54:00:ab:cd:ef']);
    const old = buildQemuArgs(spec({}), res());
    expect(values(old, '-uuid')).toEqual([]);
    expect(values(old, '-device').filter((d) => d.startsWith('virtio-net'))).toEqual(['virtio-net-pci,netdev=n0']);
    expect(() => spec({ mac: '02:00:00:00:00:01' })).toThrow(/52:54:00/);
    expect(() => spec({ uuid: 'not-a-uuid' })).toThrow(/UUID/);
  });

  it('parseHostfwds reads the forwards back from a command line (for a lost port table)', () => {
    const args = buildQemuArgs(spec({}), res({ forwards: [fwd('tcp', 40001, 22), fwd('udp', 40002, 53)] }));
    expect(parseHostfwds(args)).toEqual([
      { proto: 'tcp', hostPort: 40001, guestPort: 22 },
      { proto: 'udp', hostPort: 40002, guestPort: 53 },
    ]);
    expect(parseHostfwds(['-netdev', 'user,id=n0'])).toEqual([]);
    // only -netdev values count, and only loopback forwards
    expect(parseHostfwds(['-append', 'hostfwd=tcp:127.0.0.1:1-:2', '-netdev', 'user,id=n0,hostfwd=tcp::5555-:22'])).toEqual([]);
  });

  it('no forwards still gives the VM user networking', () => {
    expect(values(buildQemuArgs(spec({}), res()), '-netdev')).toEqual(['user,id=n0']);
  });

  it('display none: no VNC and no graphics device', () => {
    const args = buildQemuArgs(spec({ display: 'none' }), res());
    expect(hasPair(args, '-display', 'none')).toBe(true);
    expect(args).not.toContain('-vnc');
    expect(args).not.toContain('VGA');
  });

  it('display vnc: VNC on the unix socket only, a VGA card and a tablet', () => {
    const args = buildQemuArgs(spec({ display: 'vnc' }), res());
    expect(values(args, '-vnc')).toEqual([`unix:${RUN}/vnc.sock`]);
    expect(hasPair(args, '-device', 'VGA')).toBe(true);
    expect(hasPair(args, '-device', 'usb-tablet,bus=xhci0.0')).toBe(true);
    // clipboard both ways through QEMU's vdagent, on the port spice-vdagent opens
    expect(hasPair(args, '-chardev', 'qemu-vdagent,id=vdagent0,name=vdagent,clipboard=on')).toBe(true);
    expect(hasPair(args, '-device', 'virtserialport,bus=vser0.0,chardev=vdagent0,name=com.redhat.spice.0')).toBe(true);
  });

  it('a headless VM gets no clipboard agent', () => {
    expect(buildQemuArgs(spec({ display: 'none' }), res()).join(' ')).not.toContain('vdagent');
  });

  it('display vnc on microvm (no PCI): VNC socket without PCI display devices', () => {
    const g = { kernel: '/k', initrd: '/i', append: '', machine: 'microvm' };
    const args = buildQemuArgs(spec({ display: 'vnc' }), res({ defaultGuest: g }));
    expect(values(args, '-vnc')).toEqual([`unix:${RUN}/vnc.sock`]);
    expect(args).not.toContain('VGA');
    expect(args.join(' ')).not.toContain('xhci');
  });

  it('commas in socket paths are escaped so they cannot inject options', () => {
    const args = buildQemuArgs(spec({}), res({ qmpSock: '/h,x/qmp.sock', serialSock: '/h,x/ser.sock' }));
    expect(values(args, '-qmp')).toEqual(['unix:/h,,x/qmp.sock,server=on,wait=off']);
    expect(values(args, '-chardev')[0]).toBe('socket,id=ser0,path=/h,,x/ser.sock,server=on,wait=off');
  });
});

describe('buildQemuArgs: shared folders', () => {
  const shares = [
    { tag: 'work', sock: `${RUN}/fs0.sock`, readOnly: false },
    { tag: 'docs', sock: `${RUN}/fs1.sock`, readOnly: true },
  ];
  it('gives a VM with shares shareable memfd RAM on one NUMA node and a vhost-user-fs device per share', () => {
    const args = buildQemuArgs(spec({ memoryMiB: 512, shares: [{ tag: 'work', hostPath: '/srv/w' }, { tag: 'docs', hostPath: '/srv/d', readOnly: true }] }), res({ shares, shareList: `${RUN}/shares.list` }));
    expect(hasPair(args, '-object', 'memory-backend-memfd,id=mem,size=512M,share=on')).toBe(true);
    expect(hasPair(args, '-numa', 'node,memdev=mem')).toBe(true);
    expect(values(args, '-chardev')).toEqual(expect.arrayContaining([`socket,id=fs0,path=${RUN}/fs0.sock`, `socket,id=fs1,path=${RUN}/fs1.sock`]));
    expect(values(args, '-device')).toEqual(expect.arrayContaining(['vhost-user-fs-pci,chardev=fs0,tag=work', 'vhost-user-fs-pci,chardev=fs1,tag=docs']));
    expect(hasPair(args, '-fw_cfg', `name=opt/org.flotilla/shares,file=${RUN}/shares.list`)).toBe(true);
    // the chardevs are clients of virtiofsd's sockets: no server=on
    expect(values(args, '-chardev').filter((c) => c.startsWith('socket,id=fs')).every((c) => !c.includes('server'))).toBe(true);
  });
  it('leaves all of it out without shares, and the fw_cfg list out for guests other than the built-in Linux', () => {
    const none = buildQemuArgs(spec({}), res());
    expect(none).not.toContain('-numa');
    expect(values(none, '-object').some((o) => o.startsWith('memory-backend'))).toBe(false);
    const iso = buildQemuArgs(spec({ source: { kind: 'iso', path: '/x.iso' }, disks: ['disk.qcow2'], shares: [{ tag: 'work', hostPath: '/srv/w' }] }), res({ shares: shares.slice(0, 1), shareList: `${RUN}/shares.list` }));
    expect(values(iso, '-device')).toContain('vhost-user-fs-pci,chardev=fs0,tag=work');
    expect(values(iso, '-fw_cfg').some((f) => f.includes('shares'))).toBe(false);
  });
  it('lists the tags for the guest one per line with ro/rw', () => {
    expect(shareListText([{ tag: 'work', readOnly: false }, { tag: 'docs', readOnly: true }])).toBe('work rw\ndocs ro\n');
  });
});

describe('consoleDropsWhenSlow: which consoles the reader thread must read', () => {
  const argv = (console: 'ttyS0' | 'hvc0' | 'vport'): string[] => [
    'qemu-system-x86_64',
    ...consoleAndAgentArgs({ serialSock: '/run/f/ser.sock', agentSock: '/run/f/qga.sock', virtioSerial: 'virtio-serial-pci', console }),
  ];
  it('a virtio console drops output it cannot hand over; the port and the UART are throttled', () => {
    expect(consoleDropsWhenSlow(argv('hvc0'))).toBe(true);
    expect(consoleDropsWhenSlow(argv('vport'))).toBe(false);
    expect(consoleDropsWhenSlow(argv('ttyS0'))).toBe(false);
  });
  it('an unknown command line (an adopted QEMU whose /proc could not be read) is treated as dropping', () => {
    expect(consoleDropsWhenSlow(null)).toBe(true);
  });
});
