// "Did you mean": what an unknown command or option most likely meant. Two sources: the words
// people bring from virsh, virt-install, docker and QEMU (`flotilla ls`, `--iso`, `--ram`), and
// typos of our own names (`strat`, `--memroy`). A suggestion only names something the command
// really has; with none, the message points at the command's help instead.

/** Commands of other tools (and plain synonyms) → the flotilla command line that does it. */
const COMMAND_ALIASES: Record<string, string> = {
  ls: 'list',
  ps: 'list',
  status: 'list',
  new: 'create',
  define: 'create',
  run: 'create NAME --start',
  up: 'start',
  boot: 'start',
  down: 'stop',
  shutdown: 'stop',
  poweroff: 'stop',
  halt: 'stop',
  kill: 'stop --force',
  destroy: 'stop --force',
  reboot: 'restart',
  reset: 'restart',
  suspend: 'pause',
  unpause: 'resume',
  delete: 'rm',
  remove: 'rm',
  undefine: 'rm',
  show: 'info',
  inspect: 'info',
  dominfo: 'info',
  log: 'logs',
  shell: 'console',
  attach: 'console',
  copy: 'cp',
  edit: 'set',
  config: 'set',
  snap: 'snapshot',
  snapshots: 'snapshot',
  cdrom: 'media',
  cd: 'media',
  eject: 'media eject',
  mount: 'share',
  hosts: 'host',
};

/** Options of other tools → ours: `target` must be an option of the command for the hint to apply. */
const OPTION_ALIASES: Record<string, { target: string; say: string }> = {
  iso: { target: 'from', say: '--from iso:PATH' },
  cdrom: { target: 'from', say: '--from iso:PATH' },
  cd: { target: 'from', say: '--from iso:PATH' },
  location: { target: 'from', say: '--from iso:PATH' },
  disk: { target: 'from', say: '--from disk:PATH' },
  image: { target: 'from', say: '--from disk:PATH' },
  import: { target: 'from', say: '--from disk:PATH' },
  hda: { target: 'from', say: '--from disk:PATH' },
  drive: { target: 'from', say: '--from disk:PATH' },
  kernel: { target: 'from', say: '--from kernel:PATH' },
  boot: { target: 'from', say: '--from iso:PATH, disk:PATH or kernel:PATH' },
  ram: { target: 'memory', say: '--memory MIB' },
  mem: { target: 'memory', say: '--memory MIB' },
  m: { target: 'memory', say: '--memory MIB' },
  vcpus: { target: 'cpus', say: '--cpus N' },
  cpu: { target: 'cpus', say: '--cpus N' },
  smp: { target: 'cpus', say: '--cpus N' },
  cores: { target: 'cpus', say: '--cpus N' },
  size: { target: 'disk-size', say: '--disk-size GIB' },
  port: { target: 'forward', say: '--forward GUEST[:HOST]' },
  publish: { target: 'forward', say: '--forward GUEST[:HOST]' },
  p: { target: 'forward', say: '--forward GUEST[:HOST]' },
  hostfwd: { target: 'forward', say: '--forward GUEST[:HOST]' },
  volume: { target: 'share', say: '--share HOSTPATH[:TAG][:ro]' },
  mount: { target: 'share', say: '--share HOSTPATH[:TAG][:ro]' },
  filesystem: { target: 'share', say: '--share HOSTPATH[:TAG][:ro]' },
  graphics: { target: 'display', say: '--display vnc' },
  vnc: { target: 'display', say: '--display vnc' },
  nographic: { target: 'display', say: '--display none' },
  bios: { target: 'firmware', say: '--firmware bios' },
  uefi: { target: 'firmware', say: '--firmware uefi' },
  efi: { target: 'firmware', say: '--firmware uefi' },
  f: { target: 'force', say: '--force' },
  key: { target: 'ssh-key', say: '--ssh-key FILE' },
  'ssh-keys': { target: 'ssh-key', say: '--ssh-key FILE' },
  i: { target: 'identity', say: '--identity KEYFILE' },
  n: { target: 'tail', say: '--tail N' },
  lines: { target: 'tail', say: '--tail N' },
  interactive: { target: 'stdin', say: '--stdin' },
};

/** Edit distance with adjacent swaps counted as one edit ("strat" is one from "start"). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The one candidate closest to `word`, if it is close enough to be a typo of it (and no other is as close). */
export function nearest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = word.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestD = Infinity;
  let tie = false;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c);
    if (dist < bestD) [best, bestD, tie] = [c, dist, false];
    else if (dist === bestD) tie = true;
  }
  return best !== undefined && bestD <= limit && !tie ? best : undefined;
}

/** The tail of the "unknown command" message. */
export function commandHint(word: string, commands: Iterable<string>): string {
  const alias = COMMAND_ALIASES[word.toLowerCase()];
  const meant = alias ?? nearest(word, commands);
  return meant ? `; did you mean \`flotilla ${meant}\`? (\`flotilla help\` lists the commands)` : '; `flotilla help` lists the commands';
}

/** The tail of the "unknown option" message: `name` without its dashes. */
export function optionHint(name: string, options: Iterable<string>, command: string): string {
  const have = new Set(options);
  const alias = OPTION_ALIASES[name.toLowerCase()];
  if (alias && have.has(alias.target)) return `; did you mean ${alias.say}?`;
  if (name === 'name' || name === 'vm') return `; the VM's name is an argument: \`flotilla ${command} NAME\``;
  if (name.length > 1) {
    const near = nearest(name, have);
    if (near) return `; did you mean --${near}?`;
  }
  return `; \`flotilla help ${command}\` lists its options`;
}
