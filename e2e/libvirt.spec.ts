// A libvirt host in the browser (issue 13), against the real libvirtd that
// scripts/libvirt-test-setup.sh starts (npm test runs it before this step; CI too): with
// qemu:///system added through the CLI, a built-in VM on that host shows as a tile, starts from
// it, its console runs a typed command (the guest's console port through libvirt's channel stream), and
// it stops; its Settings change vCPUs, memory, note and autostart through libvirt (and share a
// folder of that host, a virtiofs filesystem in its definition); the Hosts
// dialog forgets the host and adds it back; the New VM dialog offers the host's ISO images from its
// storage pools. A remote host added from the form shows the ssh host key it offers and is trusted
// only when the user says so. Skips, saying why, only when libvirtd (or the loopback sshd) is not
// set up. The domain and its disk
// volume are removed afterwards, through the CLI and, should serve be gone, through virsh.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect, test } from '@playwright/test';
import { useServedApp } from './fixtures/flotilla-serve';
import { CreateVmDialog } from './pages/create-vm-dialog';
import { TilesPage } from './pages/tiles-page';
import { VmViewPage } from './pages/vm-view-page';
import { cli } from './shell-helpers';

const URI = 'qemu:///system';
const HOST = 'lv';

function virsh(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('virsh', ['--quiet', '--connect', URI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** Why libvirtd cannot be used here, or null when `virsh version` reaches it. */
function libvirtUnreachable(): string | null {
  const r = virsh(['version']);
  if (r.status === 0) return null;
  return `libvirtd is not reachable at ${URI} (${r.out.trim().split('\n')[0] || `virsh exited ${r.status}`}): run \`bash scripts/libvirt-test-setup.sh\` as root first`;
}

const SSH_ENV = '/tmp/flotilla-libvirt-test/env';

/** The loopback sshd's key file and port from the set-up script, or null without one. */
function sshTestEnv(): { dir: string; key: string; port: number } | null {
  let text: string;
  try {
    text = readFileSync(SSH_ENV, 'utf8');
  } catch {
    return null;
  }
  const v = (k: string): string | undefined => new RegExp(`^${k}=(.*)$`, 'm').exec(text)?.[1];
  const key = v('FLOTILLA_LIBVIRT_TEST_KEY');
  const port = /:(\d+)\/system/.exec(v('FLOTILLA_LIBVIRT_TEST_SSH_URI') ?? '')?.[1];
  return key && port ? { dir: dirname(SSH_ENV), key, port: Number(port) } : null;
}

test.describe.configure({ mode: 'serial' });

test.describe('a VM on a libvirt host', () => {
  const why = libvirtUnreachable();
  test.skip(why !== null, why ?? '');
  const VM = `lve2e-${Math.random().toString(36).slice(2, 8)}`;
  test.afterAll(() => {
    // registered before useServedApp's hooks so that it runs first (hooks run in the order they
    // were registered): through the engine while serve still runs; virsh as the fallback, so no
    // domain or disk volume stays behind
    let removed = false;
    try {
      removed = cli(app.home, ['rm', VM, '--host', HOST, '--storage']).status === 0;
    } catch {
      // serve never started (no build): nothing was made through it
    }
    if (!removed && virsh(['dominfo', VM]).status === 0) {
      virsh(['destroy', VM]);
      virsh(['undefine', VM, '--remove-all-storage']);
    }
  });

  const app = useServedApp();

  test.beforeAll(() => {
    const added = cli(app.home, ['host', 'add', HOST, URI]);
    expect(added.status, added.stderr).toBe(0);
    const made = cli(app.home, ['create', VM, '--host', HOST, '--memory', '256']);
    expect(made.status, made.stderr).toBe(0);
  });

  test('its tile starts, its console runs a typed command, and it stops', async () => {
    const info = test.info();
    const tiles = new TilesPage(app.page);
    const tile = tiles.tile(VM);
    await expect(tile.root).toBeVisible();
    await expect(tile.root).toContainText(HOST); // the tile names its host
    await tile.expectState('stopped');

    await tile.button('Start').click();
    await tile.expectState('running');
    // its CPU and memory from libvirt (domstats), drawn as sparklines like a local VM's
    await expect(tile.memorySparkline.locator('path.spark-line')).toHaveCount(1, { timeout: 30_000 });
    // qemu:///system is this computer's libvirt: its domain counts in the bar of this computer (a
    // host reached over ssh would not: host-bar.test.ts), and its stop takes its vCPU off. Read
    // while it runs, as that libvirtd may run other domains (the host shows them all).
    const cpus = app.page.getByRole('region', { name: 'This computer' }).getByRole('meter', { name: /^CPUs \d+ of \d+$/ });
    const cpusRunning = Number((await cpus.getAttribute('aria-label'))!.split(' ')[1]);
    expect(cpusRunning).toBeGreaterThanOrEqual(1);
    // on libvirt's default network: the tile offers ssh on the guest's address, and the command it
    // copies (host key pinned, Flotilla's key) logs in, as pasted into a shell
    const sshChips = tile.root.getByRole('list', { name: `SSH to ${VM}` });
    await expect(sshChips).toContainText(/ssh root@192\.168\.122\.\d+/, { timeout: 60_000 });
    await sshChips.getByRole('button', { name: `Copy ssh command for ${VM}` }).click();
    const copied = sshChips.getByRole('button', { name: /^Copied ssh / });
    await expect(copied).toBeVisible({ timeout: 60_000 });
    const command = (await copied.getAttribute('aria-label'))!.replace(/^Copied /, '');
    expect(command).toContain('StrictHostKeyChecking=yes');
    const login = spawnSync('bash', ['-c', `${command} cat /proc/sys/kernel/hostname`], { encoding: 'utf8', timeout: 60_000 });
    expect(login.stdout, login.stderr).toBe(`${VM}\n`);
    await app.page.screenshot({ path: info.outputPath('libvirt-running.png') });

    await tile.open();
    const view = new VmViewPage(app.page, VM);
    await view.selectTab('Console');
    await expect(view.terminal).toBeVisible();
    // the built-in guest's console port, named as libvirt's definition has it (not hvc0)
    await expect(view.panel).toContainText('Console (virtio-serial, /dev/flotilla-console)');
    // the shell's output, not the echo of the typed line: only the shell computes 42. Typed again
    // while nothing comes back: the guest may still be booting (a line typed before its relay
    // runs waits in the port, and one typed before the helper attached is not sent).
    const marker = `lv-${Math.random().toString(36).slice(2, 10)}`;
    await expect(async () => {
      await view.typeInConsole(`echo ${marker}-$((40+2))\n`);
      await expect(view.terminal).toContainText(`${marker}-42`, { timeout: 5_000 });
    }).toPass({ timeout: 150_000, intervals: [1000] });
    // the shell's pty has the terminal's rows here too (set through the agent, over virsh)
    const termRows = await view.terminal.locator('.xterm-rows > div').count();
    await expect(async () => {
      await view.typeInConsole('echo lv-size=$(stty size)\n');
      await expect(view.terminal).toContainText(new RegExp(`lv-size=${termRows} \\d+`), { timeout: 5_000 });
    }).toPass({ timeout: 60_000, intervals: [1000] });
    await app.page.screenshot({ path: info.outputPath('libvirt-console.png') });
    await view.back();

    await tile.button('Stop').click();
    await tile.expectState('stopped', 120_000);
    await expect(tile.button('Start')).toBeVisible();
    await expect(cpus).toHaveAttribute('aria-label', new RegExp(`^CPUs ${cpusRunning - 1} of \\d+$`));
    await app.page.screenshot({ path: info.outputPath('libvirt-stopped.png') });
  });

  test('its Settings change vCPUs, memory and the note with libvirt, and show only what libvirt takes from Flotilla', async () => {
    const info = test.info();
    const tiles = new TilesPage(app.page);
    await tiles.tile(VM).open();
    const view = new VmViewPage(app.page, VM);
    await view.selectTab('Settings');
    await expect(view.panel.getByLabel('Display')).toHaveCount(0);
    await expect(view.panel.getByText('Port forwards')).toHaveCount(0);
    await expect(view.panel.getByRole('checkbox', { name: 'Keep running when the Flotilla app quits' })).toHaveCount(0);
    await view.panel.getByLabel('CPUs', { exact: true }).fill('2');
    await view.panel.getByLabel('Memory (MiB)').fill('320');
    await view.panel.getByLabel('Note').fill('Lab build box');
    await view.panel.getByRole('checkbox', { name: 'Start automatically when libvirt starts' }).check();
    await view.panel.getByRole('button', { name: 'Save changes' }).click();
    await expect(view.panel.getByRole('status')).toHaveText('Saved');
    await app.page.screenshot({ path: info.outputPath('libvirt-settings.png') });
    // libvirt holds it: what virsh and virt-manager show
    const dominfo = virsh(['dominfo', VM]).out;
    expect(dominfo).toMatch(/^CPU\(s\): +2$/m);
    expect(dominfo).toMatch(/^Max memory: +327680 KiB$/m);
    expect(dominfo).toMatch(/^Autostart: +enable$/m);
    expect(virsh(['desc', VM]).out.trim()).toBe('Lab build box');
    virsh(['autostart', VM, '--disable']);
    await view.back();
    await expect(tiles.tile(VM).root).toContainText('2 vCPU');
    await expect(tiles.tile(VM).root).toContainText('Lab build box');
  });

  test('Export writes it to a file on this computer, and Import makes it a VM of this computer', async () => {
    const info = test.info();
    const tiles = new TilesPage(app.page);
    const file = join(app.home, `${VM}.flotilla`);
    await tiles.tile(VM).menu('Export…');
    const exporting = app.page.getByRole('dialog', { name: `Export ${VM}` });
    await expect(exporting).toContainText(`the disks are downloaded from ${HOST}`);
    await exporting.getByRole('textbox', { name: 'Save as' }).fill(file);
    await exporting.getByRole('button', { name: 'Export' }).click();
    await expect.poll(() => existsSync(file), { timeout: 120_000 }).toBe(true);
    await expect(exporting).toHaveCount(0);

    await app.page.getByRole('button', { name: 'Import VM' }).click();
    const importing = app.page.getByRole('dialog', { name: 'Import a VM' });
    await importing.getByLabel('Host').selectOption({ label: HOST });
    await expect(importing).toContainText(`The VM goes to ${HOST}: its disks are uploaded into that host’s flotilla pool`);
    await importing.getByLabel('Host').selectOption({ label: 'This computer' });
    await importing.getByRole('textbox', { name: 'Archive' }).fill(file);
    await importing.getByRole('textbox', { name: 'Name', exact: true }).fill(`${VM}-here`);
    await app.page.screenshot({ path: info.outputPath('libvirt-import-dialog.png') });
    await importing.getByRole('button', { name: 'Import' }).click();
    const here = tiles.tile(`${VM}-here`);
    await expect(here.root).toBeVisible({ timeout: 120_000 });
    await here.expectState('stopped');
    await expect(importing).toHaveCount(0);
    // a VM of this computer now: its disk is in the data directory, not a volume of the host
    const local = JSON.parse(cli(app.home, ['info', `${VM}-here`, '--json']).stdout) as { host: string; spec: { disks: string[]; note?: string } };
    expect(local).toMatchObject({ host: 'local', spec: { disks: ['disk.qcow2'], note: 'Lab build box' } });
  });

  test('Hosts forgets the host (its tiles go, the domain stays) and adds it back from the form', async () => {
    const info = test.info();
    const tiles = new TilesPage(app.page);
    await app.page.getByRole('button', { name: 'Hosts' }).click();
    const dialog = app.page.getByRole('dialog', { name: 'Hosts' });
    const row = dialog.getByRole('listitem', { name: `Host ${HOST}` });
    await expect(row).toContainText('Connected');
    await expect(row).toContainText(URI);
    await expect(dialog.getByRole('listitem', { name: 'Host This computer' })).toBeVisible();

    // the same libvirt under another name is refused, naming the host that has it
    await dialog.getByLabel('Name', { exact: true }).fill('again');
    await dialog.getByLabel('Where').selectOption('system');
    await expect(dialog.getByLabel('Connection URI')).toHaveText(URI);
    await dialog.getByRole('button', { name: 'Add host' }).click();
    await expect(dialog.getByRole('alert')).toContainText(`${URI} is added already, as host ${HOST}`);
    await app.page.screenshot({ path: info.outputPath('hosts-dialog.png') });

    await row.getByRole('button', { name: `Forget host ${HOST}` }).click();
    await row.getByRole('group', { name: `Forget ${HOST}?` }).getByRole('button', { name: 'Forget' }).click();
    await expect(row).toHaveCount(0);
    await expect(tiles.tile(VM).root).toHaveCount(0);
    expect(virsh(['dominfo', VM]).status).toBe(0); // forgotten by Flotilla, not deleted

    await dialog.getByLabel('Name', { exact: true }).fill(HOST);
    await dialog.getByRole('button', { name: 'Add host' }).click();
    await expect(dialog.getByRole('status')).toContainText(`Added ${HOST}`);
    await expect(dialog.getByRole('listitem', { name: `Host ${HOST}` })).toContainText('Connected');
    await dialog.getByRole('button', { name: 'Close' }).first().click();
    await expect(tiles.tile(VM).root).toBeVisible();
    // the CLI sees the same (hosts.json)
    const listed = JSON.parse(cli(app.home, ['host', 'list', '--json']).stdout) as { id: string; uri?: string; state: string }[];
    expect(listed.find((h) => h.id === HOST)).toMatchObject({ uri: URI, state: 'connected' });
  });

  test("New VM offers the host's ISO images from its storage pools", async () => {
    const info = test.info();
    // a storage pool of ISOs on the host, as virt-manager users keep one
    const pool = `lve2e-isos-${Math.random().toString(36).slice(2, 8)}`;
    const dir = mkdtempSync(join(tmpdir(), 'lve2e-isos-'));
    writeFileSync(join(dir, 'debian-12.7-netinst.iso'), Buffer.alloc(64 * 1024));
    expect(virsh(['pool-create-as', '--name', pool, '--type', 'dir', '--target', dir]).status).toBe(0);
    try {
      await new TilesPage(app.page).newVmButton.click();
      const dialog = new CreateVmDialog(app.page);
      await dialog.field('Host').selectOption(HOST);
      await dialog.chooseSource('Install from ISO');
      await dialog.root.getByRole('button', { name: `Choose an ISO image from ${HOST}'s storage` }).click();
      const picker = app.page.getByRole('dialog', { name: `Choose an ISO image on ${HOST}` });
      const entry = picker.getByRole('list', { name: `ISO images on ${HOST}` }).getByRole('button', { name: /debian-12\.7-netinst\.iso/ });
      await expect(entry).toContainText(pool);
      await app.page.screenshot({ path: info.outputPath('libvirt-iso-picker.png') });
      await entry.dblclick();
      await expect(picker).toHaveCount(0);
      await expect(dialog.field('ISO image')).toHaveValue(join(dir, 'debian-12.7-netinst.iso'));
      await dialog.cancel();
    } finally {
      virsh(['pool-destroy', pool]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a VM made from one of the host's ISOs changes its CD, gains a disk and is cloned; deleting it with its disks keeps the ISO", async () => {
    const info = test.info();
    const pool = `lve2e-cd-${Math.random().toString(36).slice(2, 8)}`;
    const dir = mkdtempSync(join(tmpdir(), 'lve2e-cd-'));
    const installer = join(dir, 'installer.iso');
    const tools = join(dir, 'guest-tools.iso');
    writeFileSync(installer, Buffer.alloc(64 * 1024));
    writeFileSync(tools, Buffer.alloc(64 * 1024));
    expect(virsh(['pool-create-as', '--name', pool, '--type', 'dir', '--target', dir]).status).toBe(0);
    const CD_VM = `${VM}-cd`;
    try {
      const made = cli(app.home, ['create', CD_VM, '--host', HOST, '--from', `iso:${installer}`, '--disk-size', '1', '--memory', '128', '--json']);
      expect(made.status, made.stderr).toBe(0);
      const vmId = (JSON.parse(made.stdout) as { id: string }).id;
      await app.page.evaluate(`location.hash = '#/vm/${vmId}/settings'`);
      const view = new VmViewPage(app.page, CD_VM);
      const drive = view.root.getByRole('group', { name: 'CD drive' });
      await expect(app.page.getByTestId(`vm-${CD_VM}-cd`)).toHaveText('installer.iso');
      await drive.getByRole('button', { name: 'Eject' }).click();
      await expect(app.page.getByTestId(`vm-${CD_VM}-cd`)).toHaveText('Empty drive');

      // the host's ISOs, from its storage pools: the path picked is on that host
      await drive.getByRole('button', { name: 'Insert CD…' }).click();
      const dialog = app.page.getByRole('dialog', { name: `Insert a CD into ${CD_VM}` });
      await dialog.getByRole('button', { name: `Choose an ISO image from ${HOST}'s storage` }).click();
      const picker = app.page.getByRole('dialog', { name: `Choose an ISO image on ${HOST}` });
      await picker.getByRole('list', { name: `ISO images on ${HOST}` }).getByRole('button', { name: /guest-tools\.iso/ }).dblclick();
      await expect(dialog.getByRole('textbox', { name: 'ISO image' })).toHaveValue(tools);
      await app.page.screenshot({ path: info.outputPath('libvirt-insert-cd.png') });
      await dialog.getByRole('button', { name: 'Insert' }).click();
      await expect(dialog).toHaveCount(0);
      await expect(app.page.getByTestId(`vm-${CD_VM}-cd`)).toHaveText('guest-tools.iso');
      expect(virsh(['domblklist', CD_VM, '--inactive']).out).toContain(tools);

      // a blank disk: a new volume in the host's flotilla pool, listed with where it is there
      const disks = view.panel.getByRole('region', { name: 'Disks' });
      await disks.getByRole('button', { name: 'Add disk…' }).click();
      const add = app.page.getByRole('dialog', { name: `Add a disk to ${CD_VM}` });
      await add.getByRole('spinbutton', { name: 'Size (GiB)' }).fill('1');
      await add.getByRole('button', { name: 'Add disk' }).click();
      await expect(add).toHaveCount(0);
      const vdb = disks.getByTestId('disk-vdb');
      await expect(vdb).toContainText('1.0 GiB');
      await expect(vdb).toContainText('/var/lib/libvirt/flotilla/');
      await expect(vdb.getByRole('button', { name: 'Remove vdb' })).toBeEnabled();
      await expect(disks.getByTestId('disk-vda').getByRole('button', { name: 'Remove vda' })).toHaveCount(0);
      await vdb.scrollIntoViewIfNeeded();
      await app.page.screenshot({ path: info.outputPath('libvirt-disks.png') });

      // a shared folder: one of that host's folders, typed (the browser shows this computer's);
      // this guest is not the built-in Linux, so the row shows the mount command to type in it
      const shares = view.panel.getByRole('region', { name: 'Shared folders' });
      await expect(shares).toContainText(`Share a folder of host ${HOST} with ${CD_VM}`);
      await expect(shares.getByRole('button', { name: 'Browse for a folder to share' })).toHaveCount(0);
      await shares.getByRole('textbox', { name: 'Folder to share' }).fill(dir);
      await shares.getByRole('textbox', { name: 'Tag' }).fill('isos');
      await shares.getByRole('button', { name: 'Share folder' }).click();
      await expect(shares.getByTestId('share-isos')).toContainText('mkdir -p /mnt/isos && mount -t virtiofs isos /mnt/isos');
      expect(virsh(['dumpxml', CD_VM, '--inactive']).out).toMatch(/<driver type='virtiofs'\/>[\s\S]*<target dir='isos'\/>/);
      // read-only is libvirt's to allow, and 9.0 does not: said in words, nothing changes
      await shares.getByRole('textbox', { name: 'Folder to share' }).fill('/var/tmp');
      await shares.getByRole('checkbox', { name: 'Read-only' }).check();
      await shares.getByRole('button', { name: 'Share folder' }).click();
      await expect(shares).toContainText(`libvirt on ${HOST} cannot share a folder read-only`);
      await expect(shares.getByRole('row')).toHaveCount(2);
      await shares.scrollIntoViewIfNeeded();
      await app.page.screenshot({ path: info.outputPath('libvirt-shares.png') });

      // a full copy on the same host, from the tile's menu: libvirt copies both disks, the CD is shared
      await view.back();
      const tiles = new TilesPage(app.page);
      await tiles.tile(CD_VM).menu('Clone…');
      const clone = app.page.getByRole('dialog', { name: `Clone ${CD_VM}` });
      await expect(clone).toContainText(`A full copy on ${HOST}`);
      await expect(clone.getByRole('checkbox', { name: 'Linked clone' })).toHaveCount(0);
      await clone.getByRole('button', { name: 'Clone' }).click();
      await expect(tiles.tile(`${CD_VM}-clone`).root).toBeVisible({ timeout: 60_000 });
      await expect(clone).toHaveCount(0);
      const copied = virsh(['domblklist', `${CD_VM}-clone`, '--inactive']).out;
      expect(copied).toContain(tools);
      expect(copied).toMatch(/vda\s+\/var\/lib\/libvirt\/flotilla\/lve2e-\S+-clone-\S+-vda\.qcow2/);
      expect(cli(app.home, ['rm', `${CD_VM}-clone`, '--host', HOST, '--storage']).status).toBe(0);

      // deleting with its disks: its own disk volumes go, the ISOs it used stay in their pool
      const blk = virsh(['domblklist', CD_VM, '--inactive']).out;
      const disk = /vda\s+(\S+)/.exec(blk)![1]!;
      const added = /vdb\s+(\S+)/.exec(blk)![1]!;
      await tiles.tile(CD_VM).button('Delete').click();
      const confirm = app.page.getByRole('alertdialog', { name: `Delete ${CD_VM}?` });
      await expect(confirm).toContainText('the image in its CD drive and any read-only or shared disk stay');
      await confirm.getByRole('checkbox', { name: "Also delete its disks from the host's storage" }).check();
      await confirm.getByRole('button', { name: 'Delete VM and disks' }).click();
      await expect(new TilesPage(app.page).tile(CD_VM).root).toHaveCount(0);
      expect([existsSync(disk), existsSync(added)]).toEqual([false, false]);
      expect([existsSync(installer), existsSync(tools)]).toEqual([true, true]);
    } finally {
      for (const d of [CD_VM, `${CD_VM}-clone`]) if (virsh(['dominfo', d]).status === 0) virsh(['undefine', d, '--remove-all-storage']);
      virsh(['pool-destroy', pool]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// A first connection to another computer, as ssh and virt-manager ask it: the Hosts form shows the
// fingerprint of the key the host offers, nothing is trusted until the user says so, and then the
// key goes into the user's known_hosts and the host connects. Against the loopback sshd of
// scripts/libvirt-test-setup.sh; serve runs with a HOME of its own, so the known_hosts it writes is
// a fresh one, not the machine's.
test.describe('a remote host added from the Hosts form', () => {
  const ssh = sshTestEnv();
  test.skip(ssh === null, `the loopback sshd of scripts/libvirt-test-setup.sh is not set up (${SSH_ENV}): run it as root first`);
  // a HOME with a space in it: ssh would split an unquoted UserKnownHostsFile value there
  const sshHome = mkdtempSync(join(tmpdir(), 'lve2e home-'));
  test.afterAll(() => rmSync(sshHome, { recursive: true, force: true }));
  const app = useServedApp({ env: () => ({ HOME: sshHome }) });

  test('shows the key it offers, adds it to known_hosts only when trusted, then connects', async () => {
    const info = test.info();
    const env = ssh!;
    const knownHosts = join(sshHome, '.ssh', 'known_hosts');
    // what the host's own ssh-keygen says of its key: the fingerprint the user compares
    const own = spawnSync('ssh-keygen', ['-lf', `${env.dir}/host_key.pub`], { encoding: 'utf8' }).stdout.split(' ')[1];
    expect(own).toMatch(/^SHA256:/);

    await app.page.getByRole('button', { name: 'Hosts' }).click();
    const dialog = app.page.getByRole('dialog', { name: 'Hosts' });
    await dialog.getByLabel('Name', { exact: true }).fill('far');
    await dialog.getByLabel('User').fill('root');
    await dialog.getByLabel('Host name or address').fill('127.0.0.1');
    await dialog.getByLabel('Port').fill(String(env.port));
    await dialog.getByLabel('Key file').fill(env.key);
    await dialog.getByRole('button', { name: 'Add host' }).click();

    const question = dialog.getByRole('alertdialog', { name: 'Trust this host key?' });
    await expect(question.getByLabel('Host key fingerprint')).toHaveText(own!);
    await expect(question).toContainText('ED25519');
    await app.page.screenshot({ path: info.outputPath('host-key-question.png') });
    // asked, not yet trusted: nothing written, nothing stored
    expect(existsSync(knownHosts)).toBe(false);
    await expect(dialog.getByRole('listitem', { name: 'Host far' })).toHaveCount(0);

    await question.getByRole('button', { name: 'Trust and add' }).click();
    await expect(dialog.getByRole('status')).toContainText('Added far');
    await expect(dialog.getByRole('listitem', { name: 'Host far' })).toContainText('Connected');
    // the line is ssh's own: ssh itself finds the host in it, and it is the host's key
    const found = spawnSync('ssh-keygen', ['-F', `[127.0.0.1]:${env.port}`, '-f', knownHosts, '-l'], { encoding: 'utf8' });
    expect(found.status, found.stderr).toBe(0);
    expect(found.stdout).toContain(own!);
    expect(readFileSync(knownHosts, 'utf8').trim().split('\n')).toHaveLength(1);

    // its key removed since (as after ssh-keygen -R for a reinstalled host), and the connection
    // lost: the row says so and offers to check the key again, then connects once it is trusted
    writeFileSync(knownHosts, '');
    const masters = spawnSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
      .stdout.split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([, ppid, ...args]) => Number(ppid) === app.serve.child.pid && args.includes('ControlMaster=yes'));
    expect(masters).toHaveLength(1);
    process.kill(Number(masters[0]![0]), 'SIGKILL');
    const row = dialog.getByRole('listitem', { name: 'Host far' });
    await expect(row).toContainText('Unreachable', { timeout: 30_000 });
    await expect(row).toContainText('flotilla host trust far');
    await row.getByRole('button', { name: 'Check its key…' }).click();
    const again = row.getByRole('alertdialog', { name: 'Trust this host key?' });
    await expect(again.getByLabel('Host key fingerprint')).toHaveText(own!);
    await app.page.screenshot({ path: info.outputPath('host-key-check-again.png') });
    await again.getByRole('button', { name: 'Trust and connect' }).click();
    await expect(row).toContainText('Connected', { timeout: 30_000 });
    await expect(row.getByRole('button', { name: 'Check its key…' })).toHaveCount(0);
    expect(readFileSync(knownHosts, 'utf8').trim().split('\n')).toHaveLength(1);
  });
});

