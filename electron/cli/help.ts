// Help text of the `flotilla` commands: one entry per command (usage line, one-line summary,
// its options in words), from which `flotilla help`, `flotilla help CMD`, `CMD --help` and the
// shell completion scripts are all made. A command that parses options must have an entry here
// (a unit test checks every entry of the option table), so help can never lag behind a new
// command.

export interface CommandHelp {
  /** the words after `flotilla`, e.g. `start NAME [--wait-agent] [--json]` */
  usage: string;
  summary: string;
  /** `[--option VALUE, what it does]` */
  options?: [string, string][];
  /** paragraphs after the options */
  notes?: string;
  /** the first positional is a VM name (shell completion offers VM names) */
  takesVm?: boolean;
}

const JSON_HELP: [string, string] = ['--json', 'print the result as JSON (the contract DTO)'];
const HOST_HELP: [string, string] = ['--host NAME', 'the host the VM lives on (see `flotilla host list`); default: found by name on any host, created locally'];

export const COMMAND_HELP: Record<string, CommandHelp> = {
  list: { usage: 'list [--json]', summary: 'list all VMs with state, agent, IPs and forwarded ports', options: [HOST_HELP, JSON_HELP] },
  create: {
    usage:
      'create NAME [--from default|iso:PATH|disk:PATH|kernel:PATH] [--initrd PATH] [--append STR]\n' +
      '       [--kernel-disk PATH] [--disk-mode copy|reference] [--cpus N] [--memory MIB]\n' +
      '       [--disk-size GIB] [--firmware bios|uefi] [--display none|vnc]\n' +
      '       [--forward GUEST[:HOST][/udp]]... [--restart never|on-failure] [--keep-running] [--autostart]\n' +
      '       [--ssh-key FILE]... [--share HOSTPATH[:TAG][:ro]]... [--start] [--json]',
    summary: 'create a VM (stopped, unless --start)',
    options: [HOST_HELP, 
      ['--from SOURCE', 'default (the built-in Linux), iso:PATH (boot an installer CD onto a new blank disk), disk:PATH (a qcow2 or raw disk image), kernel:PATH (boot a Linux kernel directly)'],
      ['--initrd PATH', 'initramfs for --from kernel:PATH'],
      ['--append STR', 'kernel command line for --from kernel:PATH'],
      ['--kernel-disk PATH', 'a disk image to attach to a --from kernel:PATH VM'],
      ['--disk-mode MODE', 'copy (default: the VM gets its own copy) or reference (use the disk in place), for --from disk:PATH'],
      ['--cpus N', 'virtual CPUs, 1 to 64 (default 1)'],
      ['--memory MIB', 'memory in MiB, from 64 up to what this machine has (default 256)'],
      ['--disk-size GIB', 'disk size, a whole number of GiB from 1 to 4096: the built-in Linux’s /root disk (default 8) or the blank disk for --from iso:PATH (default 16)'],
      ['--firmware bios|uefi', 'firmware (default bios)'],
      ['--display none|vnc', 'vnc gives the VM a graphical display (default none: serial console only)'],
      ['--forward GUEST[:HOST][/udp]', 'forward 127.0.0.1:HOST to the guest port; without HOST a free port is picked at start; repeatable'],
      ['--restart never|on-failure', 'restart the VM when it crashes (default never)'],
      ['--keep-running', 'keep the VM running when the desktop app quits'],
      ['--autostart', 'start the VM with the first Flotilla (app, serve or command) after this computer starts'],
      ['--ssh-key FILE', 'a public key file (.pub) the built-in Linux accepts for root over SSH, besides your ~/.ssh/*.pub; repeatable'],
      ['--share HOSTPATH[:TAG][:ro]', 'share a host directory with the guest (virtio-fs; TAG defaults to the directory’s name, :ro makes it read-only); the built-in Linux mounts it at /mnt/TAG; repeatable'],
      ['--start', 'start the VM once it is created'],
      JSON_HELP,
    ],
    notes: 'Relative paths are taken from the current directory. Files are checked before anything is created: an ISO must be an ISO 9660 image, a disk a disk image qemu-img reads, a kernel a Linux kernel (bzImage or ELF).',
  },
  start: {
    usage: 'start NAME [--wait-agent] [--json]',
    summary: 'boot a VM',
    options: [HOST_HELP, ['--wait-agent', 'return once the guest agent answers (fails after 60 s of silence; the VM keeps running)'], JSON_HELP],
    notes: 'Warns when the running VMs together would need more memory than the host has free.',
    takesVm: true,
  },
  stop: {
    usage: 'stop NAME [--force] [--json]',
    summary: 'shut a VM down: ACPI powerdown, then quit and kill after a 30 s deadline',
    options: [HOST_HELP, ['--force', 'skip the powerdown: quit QEMU at once (SIGKILL if it does not exit)'], JSON_HELP],
    notes: 'Stopping a VM that is already stopped succeeds and says so.',
    takesVm: true,
  },
  restart: { usage: 'restart NAME [--json]', summary: 'hardware reset of a running VM (same process, same ports)', options: [HOST_HELP, JSON_HELP], takesVm: true },
  pause: { usage: 'pause NAME [--json]', summary: 'pause a running VM', options: [HOST_HELP, JSON_HELP], takesVm: true },
  resume: { usage: 'resume NAME [--json]', summary: 'resume a paused VM', options: [HOST_HELP, JSON_HELP], takesVm: true },
  rm: { usage: 'rm NAME [--json]', summary: 'delete a stopped VM and its disks', options: [HOST_HELP, ['--storage', 'on a libvirt host, also delete the domain’s disks'], JSON_HELP], takesVm: true },
  info: {
    usage: 'info [NAME] [--json]',
    summary: 'settings, state and last exit of a VM; without NAME, this computer: QEMU, KVM (or why not), the built-in Linux',
    options: [HOST_HELP, JSON_HELP],
    takesVm: true,
  },
  ports: { usage: 'ports [NAME] [--json]', summary: 'forwarded host ports (always on 127.0.0.1)', options: [JSON_HELP], takesVm: true },
  logs: {
    usage: 'logs NAME [--serial] [--follow] [--tail N]',
    summary: 'lifecycle and QEMU log, or the serial console log',
    options: [HOST_HELP, 
      ['--serial', 'print the serial console log instead'],
      ['--follow', 'keep printing until Ctrl-C'],
      ['--tail N', 'how many log lines to print first (default 200)'],
    ],
    takesVm: true,
  },
  exec: {
    usage: 'exec NAME [--stdin] -- CMD [ARGS...]',
    options: [HOST_HELP, ['--stdin', 'pass this command’s standard input to CMD (any bytes, at most 1 MiB)']],
    summary: 'run a command in the guest through its agent; exits with the command’s exit code',
    takesVm: true,
  },
  cp: {
    usage: 'cp HOSTFILE VM:/PATH | cp VM:/PATH HOSTPATH',
    options: [HOST_HELP],
    summary: 'copy one file into or out of a running VM through its guest agent (any size, in chunks; carries on after a lost engine, and a cut-short copy in resumes)',
  },
  console: { usage: 'console NAME', options: [HOST_HELP], summary: 'interactive serial console (Ctrl-] leaves; the VM keeps running)', takesVm: true },
  ssh: {
    usage: 'ssh NAME [--identity FILE] [-- CMD...]',
    summary: 'SSH into the built-in Linux: on its forwarded port, or on its address for a libvirt host of this computer (host key checked)',
    options: [HOST_HELP, ['--identity FILE', 'the private key to offer (default: ssh’s own choice)']],
    takesVm: true,
  },
  set: {
    usage: 'set NAME [--cpus N] [--memory MIB] [--name NEW] [--forward GUEST[:HOST][/udp]]...\n' + '    [--display none|vnc] [--firmware bios|uefi] [--restart never|on-failure] [--keep-running on|off]\n' + '    [--autostart on|off] [--note TEXT] [--json]',
    summary: 'change the options given (as the Settings tab does); name, note, forwards, restart, keep-running and autostart even while it runs',
    options: [
      ['--cpus N', 'virtual CPUs, 1 to 64'],
      ['--memory MIB', 'memory in MiB, from 64 up to what this machine has'],
      ['--name NEW', 'rename the VM'],
      ['--forward GUEST[:HOST][/udp]', 'replaces the whole forward list; repeatable'],
      ['--display none|vnc', 'graphical display or serial console only'],
      ['--firmware bios|uefi', 'firmware'],
      ['--restart never|on-failure', 'restart the VM when it crashes'],
      ['--keep-running on|off', 'keep it running when the desktop app quits'],
      ['--autostart on|off', 'start it with the first Flotilla after this computer starts'],
      ['--note TEXT', 'your own words about the VM, shown on its tile ("" clears it)'],
      HOST_HELP,
      JSON_HELP,
    ],
    takesVm: true,
  },
  disk: {
    usage: 'disk list NAME [--json] | disk resize NAME GIB [--disk FILE] | disk add NAME GIB [--json] | disk rm NAME DISK',
    summary: 'list a VM’s disks, grow one (running or stopped; never shrinks), add a blank one or remove an added one (stopped)',
    options: [HOST_HELP, ['--disk FILE', 'which disk to resize, a name from `disk list` (default: the first)'], JSON_HELP],
    notes:
      'A running VM’s disk grows at once (QMP block_resize); grow the partition and filesystem inside the guest. ' +
      'disk rm deletes the disk’s file and its data; it refuses the disk the VM was made with, and a disk that snapshots or linked clones still need. ' +
      'On a libvirt host (--host) disks are named by their target (vda, vdb, …): an added disk is a new volume in the flotilla pool, and rm detaches a disk, deleting its volume only if Flotilla made it.',
  },
  media: {
    usage: 'media insert NAME ISO [--json] | media eject NAME [--json]',
    summary: 'insert, change or eject the CD of a running or stopped VM',
    options: [HOST_HELP, JSON_HELP],
    notes: 'On a libvirt host (--host) ISO is a path on that host (`host volumes HOST --kind iso` lists them), and the domain needs a CD drive in its definition.',
  },
  share: {
    usage: 'share add NAME HOSTPATH [--tag TAG] [--read-only] [--json] | share rm NAME TAG | share list NAME [--json]',
    summary: 'shared folders: host directories the guest mounts (virtio-fs)',
    options: [
      ['--tag TAG', 'what the guest mounts: 1–36 of a-z 0-9 _ - (default: made from the directory’s name)'],
      ['--read-only', 'the guest can read but not write; enforced on the host, so no guest mount option undoes it'],
      HOST_HELP,
      JSON_HELP,
    ],
    notes:
      'Add and rm change a stopped VM (a running one is refused: stop it first). The directory must exist; / is refused; symlinks are resolved when it is added, and symlinks inside it cannot lead the guest out of it. ' +
      'The built-in Linux mounts each share at /mnt/TAG when it boots; in another Linux guest: mount -t virtiofs TAG /mnt/TAG. A VM with shares takes disk-only snapshots only (--disk-only). ' +
      'On a libvirt host (--host) HOSTPATH is an absolute path on that host, shared as a virtiofs filesystem in the domain’s definition; libvirt 9.0 refuses --read-only there.',
  },
  snapshot: {
    usage: 'snapshot create NAME [SNAP] [--disk-only] [--json] | snapshot list NAME [--json]\n' + '    | snapshot revert NAME SNAP | snapshot rm NAME SNAP',
    summary: 'snapshots: with RAM while the VM runs, disks only while it is stopped',
    options: [HOST_HELP, ['--disk-only', 'leave the RAM out of a running VM’s snapshot'], JSON_HELP],
    notes: 'Names are 1–64 of A-Z a-z 0-9 . _ - (no "/"). Reverting a running VM leaves it running in the saved state, its clock set from the host; a stopped VM stays stopped.',
  },
  export: {
    usage: 'export NAME FILE [--force]',
    summary: 'write a stopped VM to one archive file (manifest, spec, disks, a sha256 for each)',
    options: [HOST_HELP, ['--force', 'overwrite FILE if it exists']],
    notes: 'FILE is on this computer, also for a VM on a libvirt host (--host): its disks are downloaded from the host (vol-download). Import the file on any host to move the VM there.',
    takesVm: true,
  },
  import: {
    usage: 'import FILE [--host HOST] [--name NEW] [--start] [--json]',
    summary: 'create a VM from an export archive, verified completely before anything is created',
    options: [
      ['--host HOST', 'make it on this libvirt host (default: this computer); FILE is still on this computer, verified here, and its disks uploaded into the host’s flotilla pool'],
      ['--name NEW', 'the new VM’s name (default: the exported one)'],
      ['--start', 'start it once imported'],
      JSON_HELP,
    ],
    notes: 'What the archive names of the computer it came from is left out, with a warning: shared folders, port forwards on a libvirt host, an ISO the host does not have in a storage pool (the CD drive is then empty).',
  },
  clone: {
    usage: 'clone SRC NEW [--linked] [--start] [--json]',
    summary: 'copy a stopped VM, with a new id, MAC and UUID',
    options: [HOST_HELP, ['--linked', 'copy-on-write disks backed by the source’s (the source then refuses rm, start and resize while clones exist; local VMs only)'], ['--start', 'start the clone'], JSON_HELP],
    notes: 'On a libvirt host (--host) the copy is a full one on that host: libvirt copies each of its own disk volumes in its pool (vol-clone); CDs and read-only or shareable disks are shared.',
    takesVm: true,
  },
  host: {
    usage: 'host add NAME URI [--identity KEYFILE] [--trust-host-key SHA256:…] [--json] | host list [--json] | host rm NAME | host volumes NAME [--kind iso|disk] [--json] | host trust NAME [SHA256:…]',
    summary: 'libvirt hosts: add (qemu:///system, qemu+ssh://user@host/system), list with state and VM count, forget one, list the ISO and disk images in its storage pools, or check and trust its ssh key',
    options: [
      ['--identity KEYFILE', 'the ssh private key for a qemu+ssh host (default: your ssh agent or ssh’s own choice)'],
      ['--trust-host-key SHA256:…', 'a host not yet in your ~/.ssh/known_hosts: trust its ssh host key with this fingerprint (checked on the host, e.g. with ssh-keygen -lf) and add it there'],
      ['--kind iso|disk', 'host volumes: only ISO images, or only disk images (default: both); a PATH listed is what create --iso or --disk takes with --host'],
      JSON_HELP,
    ],
    notes:
      'A remote host not yet in your ~/.ssh/known_hosts is refused with the fingerprint of the key it offers and the command that trusts it; keys or the agent only, never passwords. ' +
      'A stored host whose key is not in known_hosts any more (say, after ssh-keygen -R for a reinstalled host): host trust NAME shows the key it offers, host trust NAME SHA256:… trusts it and connects. ' +
      '--host NAME picks the host on list, create, start, stop, restart, pause, resume, rm (--storage also deletes a libvirt domain’s disks), info, logs, exec, console, ssh, snapshot, disk, media and clone.',
  },
  image: {
    usage: 'image build-default [--out DIR]',
    summary: 'build the embedded default guest (kernel + initramfs from Debian packages)',
    options: [['--out DIR', 'build into DIR instead of the data directory, without an engine']],
  },
  serve: { usage: 'serve [options]', summary: 'run the engine with the web UI on 127.0.0.1 (see `flotilla serve --help`)' },
  help: { usage: 'help [COMMAND]', summary: 'this overview, or the help of one command' },
  completion: {
    usage: 'completion bash|zsh',
    summary: 'print a shell completion script (commands, options and VM names)',
    notes:
      'bash: add `source <(flotilla completion bash)` to ~/.bashrc.\n' +
      'zsh:  add `source <(flotilla completion zsh)` to ~/.zshrc (after compinit).',
  },
};

/** Commands in the order the overview lists them. */
export const COMMAND_ORDER = Object.keys(COMMAND_HELP);

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : indent + l)).join('\n');
}

export function overview(version: string): string {
  const w = Math.max(...COMMAND_ORDER.map((c) => c.length));
  const rows = COMMAND_ORDER.map((c) => `  ${c.padEnd(w)}  ${COMMAND_HELP[c]!.summary}`);
  return (
    `flotilla ${version}: run many QEMU virtual machines side by side\n\n` +
    `usage: flotilla COMMAND [options]\n\n` +
    `${rows.join('\n')}\n\n` +
    `Run \`flotilla help COMMAND\` or \`flotilla COMMAND --help\` for a command's options.\n` +
    `\`flotilla --version\` prints the version. NAME may also be a VM id.\n` +
    `FLOTILLA_HOME sets the data directory (default $XDG_DATA_HOME/flotilla).\n`
  );
}

export function commandHelp(command: string): string | null {
  const h = COMMAND_HELP[command];
  if (!h) return null;
  const options: [string, string][] = [...(h.options ?? []), ['-h, --help', 'print this help']];
  const w = Math.min(30, Math.max(...options.map(([o]) => o.length)));
  let out = `usage: flotilla ${h.usage}\n\n${h.summary}\n\noptions:\n`;
  for (const [o, what] of options) {
    const pad = o.length > w ? `\n${' '.repeat(w + 4)}` : ' '.repeat(w - o.length);
    out += `  ${o}${pad}  ${wrap(what, 96 - w - 4, ' '.repeat(w + 4))}\n`;
  }
  if (h.notes) out += `\n${h.notes.split('\n').map((l) => (l.length > 92 ? wrap(l, 92, '') : l)).join('\n')}\n`;
  return out;
}
