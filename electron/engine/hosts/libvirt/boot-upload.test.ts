// The bar of a VM that waits for the built-in Linux to go up to its host (uploadBootFiles): it
// follows the bytes virsh has read of the kernel, then of the initrd, and ends; a host that has
// them shows none. virsh here is a stand-in that answers the storage commands and reads the
// uploaded file slowly, as a slow link would have it (the real one: libvirt-transfer.itest.ts).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Progress } from '../../../../shared/contract';
import type { DefaultGuestState } from '../../guest/build-default';
import { KeyedMutex } from '../../mutex';
import { uploadBootFiles, type BootContext } from './boot-update';
import { Virsh } from './virsh';
import type { VolumeJournal } from './volume-journal';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A virsh for the pool: running; a volume is there once uploaded (a file named after it); vol-upload reads 32 KiB every 100 ms. */
function standIn(): string {
  const bin = join(dir, 'virsh');
  writeFileSync(
    bin,
    `#!/bin/bash
args=("$@"); cmd=""; vol=""; file=""
for ((i = 0; i < \${#args[@]}; i++)); do
  case "\${args[i]}" in
    pool-info|vol-dumpxml|vol-create-as|vol-upload|vol-download|vol-path|vol-delete) cmd="\${args[i]}" ;;
    --vol|--name) vol="\${args[i+1]}" ;;
    --file) file="\${args[i+1]}" ;;
    --offset) offset="\${args[i+1]}" ;;
    --length) length="\${args[i+1]}" ;;
  esac
done
case "$cmd" in
  pool-info) echo "State:          running" ;;
  vol-dumpxml) [ -e "${dir}/pool/$vol" ] || exit 1
    echo "<volume><capacity unit='bytes'>$(stat -c %s "${dir}/pool/$vol")</capacity><target><path>/pool/$vol</path></target></volume>" ;;
  vol-upload) exec 3<"$file"; while read -r -N 32768 -u 3 _; do sleep 0.1; done; cp "$file" "${dir}/pool/$vol" ;;
  vol-download) tail -c +$((offset + 1)) "${dir}/pool/$vol" | head -c "$length" > "$file" ;;
  vol-path) echo "/pool/$vol" ;;
esac
`,
  );
  chmodSync(bin, 0o755);
  return bin;
}

describe('uploadBootFiles', () => {
  it('moves the bar with the bytes of the kernel, then the initrd, and ends it; a host that has them shows none', async () => {
    dir = mkdtempSync(join(tmpdir(), 'flt-boot-up-'));
    const guest = join(dir, 'guest');
    const pool = join(dir, 'pool');
    for (const d of [guest, pool]) mkdirSync(d);
    // 256 KiB each (8 reads, over 0.8 s: the bar looks every 0.5 s), the ends not zero (an uploaded volume is checked by its end)
    writeFileSync(join(guest, 'vmlinuz'), Buffer.alloc(256 * 1024, 1));
    writeFileSync(join(guest, 'initrd.img'), Buffer.alloc(256 * 1024, 2));
    const g = { ready: true, stale: false, dir: guest, manifest: { files: { vmlinuz: { sha256: 'a'.repeat(64) }, 'initrd.img': { sha256: 'b'.repeat(64) } } } } as unknown as DefaultGuestState;
    const ctx: BootContext = { virsh: new Virsh(() => 'qemu:///system', 'lab', standIn()), home: dir, lock: new KeyedMutex(), note: () => {}, journal: {} as VolumeJournal, hostId: 'lab', local: false };
    const seen: (Progress | null)[] = [];
    const files = await uploadBootFiles(ctx, g, (p) => seen.push(p));
    expect(files).toMatchObject({ kernel: '/pool/default-vmlinuz-aaaaaaaaaaaaaaaa', initrd: '/pool/default-initrd-bbbbbbbbbbbbbbbb' });
    expect(seen.at(-1)).toBeNull();
    const bars = seen.slice(0, -1) as Progress[];
    expect(new Set(bars.map((p) => `${p.op} ${p.message}`))).toEqual(new Set(['disk-import uploading the built-in Linux to lab']));
    const pct = bars.map((p) => p.percent!);
    expect(pct[0]).toBe(0);
    expect(pct).toEqual([...pct].sort((a, b) => a - b));
    // part-way through each file: under half while the kernel goes, over it during the initrd
    expect(pct.some((x) => x > 0 && x < 50)).toBe(true);
    expect(pct.some((x) => x > 50 && x < 100)).toBe(true);

    const again: (Progress | null)[] = [];
    await uploadBootFiles(ctx, g, (p) => again.push(p));
    expect(again).toEqual([]);
  }, 30_000);
});
