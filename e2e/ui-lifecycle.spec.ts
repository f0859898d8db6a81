// Issue 12 in the browser, against `flotilla serve` with real QEMU: snapshots of a running
// built-in VM (take, change the guest, revert: the change is gone and it still runs), clone of a
// stopped VM that then starts, and import of a file written by `flotilla export` (through the
// toolbar, and in a terminal while the page shows it). One data
// directory and one page for the whole story (serial). Then files in and out through the Files tab,
// and a disk added, grown and removed in Settings.
import { expect, test } from '@playwright/test';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seriousViolations } from './fixtures/axe';
import { useServedApp } from './fixtures/flotilla-serve';
import { TilesPage } from './pages/tiles-page';
import { VmViewPage } from './pages/vm-view-page';
import { cli } from './shell-helpers';

test.describe.configure({ mode: 'serial' });

test.describe('snapshots, clone and import in the browser', () => {
  const app = useServedApp();
  const VM = 'keeper';

  /** Run a command in the guest from the VM view's Exec tab (its agent); what the run shows once it ends. */
  let runs = 0;
  const guest = async (cmd: string, vm = VM): Promise<string> => {
    const view = new VmViewPage(app.page, vm);
    await view.selectTab('Exec');
    // each run its own command line, so the history item found is this run's
    const item = await view.exec(`${cmd} # run ${++runs}`);
    await expect(item).toContainText(/exit \d+|failed/, { timeout: 60_000 });
    return item.innerText();
  };

  test('1. a snapshot taken while running is reverted to: the file written since is gone and the VM runs on', async () => {
    const info = test.info();
    const made = cli(app.home, ['create', VM, '--memory', '256']);
    expect(made.status, made.stderr).toBe(0);
    const tiles = new TilesPage(app.page);
    const tile = tiles.tile(VM);
    await tile.expectState('stopped');
    await tile.button('Start').click();
    await tile.expectState('running');
    await tile.open();
    const view = new VmViewPage(app.page, VM);
    // the agent answers once the guest has booted (and mounted its disk at /root)
    await expect.poll(() => guest("grep -q ' /root ' /proc/mounts && echo mounted-root"), { timeout: 180_000, intervals: [3000] }).toContain('mounted-root');
    await view.selectTab('Snapshots');
    await expect(view.panel.getByText('No snapshots yet')).toBeVisible();
    await view.panel.getByRole('button', { name: 'Take snapshot' }).click();
    const dialog = app.page.getByRole('dialog', { name: `Take a snapshot of ${VM}` });
    await dialog.getByRole('textbox', { name: 'Name' }).fill('clean');
    await dialog.getByRole('button', { name: 'Take snapshot' }).click();
    await expect(dialog).toHaveCount(0, { timeout: 120_000 });
    const row = view.snapshotRow('clean');
    await expect(row).toBeVisible();
    await expect(row.getByText('Disks + RAM')).toBeVisible();
    expect(await seriousViolations(app.page)).toEqual([]);
    await app.page.screenshot({ path: info.outputPath('snapshots-tab.png') });

    const marker = `written-after-${Date.now()}`;
    expect(await guest(`echo ${marker} > /root/after && sync && cat /root/after`)).toMatch(/exit 0/);
    await view.selectTab('Snapshots');

    await row.getByRole('button', { name: 'Revert to clean' }).click();
    const confirm = app.page.getByRole('alertdialog', { name: `Revert ${VM} to clean?` });
    await expect(confirm).toContainText('goes on running');
    await app.page.screenshot({ path: info.outputPath('snapshot-revert-confirm.png') });
    await confirm.getByRole('button', { name: 'Revert' }).click();
    await expect(confirm).toHaveCount(0, { timeout: 120_000 });

    await expect(app.page.getByTestId(`vm-${VM}-state`)).toHaveText('running');
    // the agent comes back in the restored state; the file written after the snapshot is not there
    await expect.poll(() => guest('test -e /root/after && echo file-present || echo file-absent'), { timeout: 120_000, intervals: [2000] }).toContain('file-absent');
    await expect(app.page.getByTestId(`vm-${VM}-state`)).toHaveText('running');
  });

  test('2. a stopped VM is cloned from its menu and the clone starts', async () => {
    const info = test.info();
    const view = new VmViewPage(app.page, VM);
    await view.root.getByRole('button', { name: 'Stop', exact: true }).click();
    await view.back();
    const tiles = new TilesPage(app.page);
    const tile = tiles.tile(VM);
    await tile.expectState('stopped');

    await tile.menu('Clone…');
    const dialog = app.page.getByRole('dialog', { name: `Clone ${VM}` });
    await expect(dialog.getByRole('textbox', { name: 'Name of the copy' })).toHaveValue(`${VM}-clone`);
    await dialog.getByRole('checkbox', { name: 'Start the copy when it is made' }).check();
    expect(await seriousViolations(app.page)).toEqual([]);
    await app.page.screenshot({ path: info.outputPath('clone-dialog.png') });
    await dialog.getByRole('button', { name: 'Clone' }).click();

    const clone = tiles.tile(`${VM}-clone`);
    await expect(clone.root).toBeVisible({ timeout: 150_000 });
    await expect(dialog).toHaveCount(0);
    await clone.expectState('running');
    await tile.expectState('stopped');
    await app.page.screenshot({ path: info.outputPath('clone-running.png') });
    await clone.button('Force stop').click();
    await app.page.getByRole('alertdialog').getByRole('button', { name: /Force stop/ }).click();
    await clone.expectState('stopped');
  });

  test('3. a file written by `flotilla export` is imported through the toolbar', async () => {
    const info = test.info();
    const file = join(app.home, 'keeper.flotilla');
    const exported = cli(app.home, ['export', VM, file]);
    expect(exported.status, exported.stderr).toBe(0);

    const tiles = new TilesPage(app.page);
    await app.page.getByRole('button', { name: 'Import VM' }).click();
    const dialog = app.page.getByRole('dialog', { name: 'Import a VM' });
    // a file that is not an archive: refused in the dialog, in words, and nothing appears
    await dialog.getByRole('textbox', { name: 'Archive' }).fill(join(app.home, 'nope.flotilla'));
    await dialog.getByRole('button', { name: 'Import' }).click();
    await expect(dialog.getByText(/nope\.flotilla/).first()).toBeVisible();
    await app.page.screenshot({ path: info.outputPath('import-error.png') });

    await dialog.getByRole('textbox', { name: 'Archive' }).fill(file);
    await dialog.getByRole('textbox', { name: 'Name', exact: true }).fill('imported');
    expect(await seriousViolations(app.page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Import' }).click();
    const imported = tiles.tile('imported');
    await expect(imported.root).toBeVisible({ timeout: 150_000 });
    await imported.expectState('stopped');
    await expect(dialog).toHaveCount(0);
    await app.page.screenshot({ path: info.outputPath('imported.png') });
  });

  test('3b. an import run in a terminal shows on the grid while it runs, then as the VM', async () => {
    const info = test.info();
    // what the grid shows for the VM, every change of it recorded in the page (the import takes
    // about a second, too short to catch by polling)
    await app.page.evaluate(`{
      const seen = (window.seenStates = []);
      const look = () => {
        const state = document.querySelector('[data-testid="vm-from-cli-state"]')?.textContent ?? null;
        const bar = document.querySelector('section[aria-label="VM from-cli"] [role="progressbar"]') ? '+bar' : '';
        const now = state === null ? 'none' : state + bar;
        if (seen.at(-1) !== now) seen.push(now);
      };
      look();
      new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    }`);
    const r = cli(app.home, ['import', join(app.home, 'keeper.flotilla'), '--name', 'from-cli']);
    expect(r.status, r.stderr).toBe(0);
    const tiles = new TilesPage(app.page);
    await tiles.tile('from-cli').expectState('stopped');
    await app.page.screenshot({ path: info.outputPath('imported-from-cli.png') });
    const seen = (await app.page.evaluate('window.seenStates')) as string[];
    // the placeholder with its bar came first (this window never asked for the import), then the VM
    expect(seen[0]).toBe('none');
    expect(seen).toContain('importing+bar');
    expect(seen.indexOf('importing+bar')).toBeLessThan(seen.indexOf('stopped'));
    expect(seen.at(-1)).toBe('stopped');
  });

  test('4. a folder shared in Settings is mounted at /mnt/TAG in the built-in Linux', async () => {
    const info = test.info();
    const dir = mkdtempSync(join(tmpdir(), 'flotilla-e2e-share-'));
    const content = `shared-${Date.now()}`;
    writeFileSync(join(dir, 'f'), `${content}\n`);
    try {
      const tiles = new TilesPage(app.page);
      await tiles.tile(VM).expectState('stopped');
      await tiles.tile(VM).open();
      const view = new VmViewPage(app.page, VM);
      await view.selectTab('Settings');
      const section = view.panel.getByRole('region', { name: 'Shared folders' });
      await section.getByRole('textbox', { name: 'Folder to share' }).fill(dir);
      await section.getByRole('textbox', { name: 'Tag' }).fill('data');
      await section.getByRole('checkbox', { name: 'Read-only' }).check();
      await section.getByRole('button', { name: 'Share folder' }).click();
      const row = section.getByTestId('share-data');
      await expect(row).toContainText('/mnt/data');
      await expect(row).toContainText('Read-only');
      expect(await seriousViolations(app.page)).toEqual([]);
      await row.scrollIntoViewIfNeeded();
      await app.page.screenshot({ path: info.outputPath('settings-shares.png') });

      await view.root.getByRole('button', { name: 'Start', exact: true }).click();
      await expect(app.page.getByTestId(`vm-${VM}-state`)).toHaveText('running', { timeout: 150_000 });
      await expect(row).toContainText('Serving');
      await expect.poll(() => guest('cat /mnt/data/f'), { timeout: 180_000, intervals: [3000] }).toContain(content);
      // read-only on the host side: the guest cannot write into it
      expect(await guest('echo x > /mnt/data/g; test -e /mnt/data/g && echo wrote || echo refused')).toContain('refused');

      // a shared folder rules out a snapshot with RAM: the dialog says why and offers a disk-only one
      await view.selectTab('Snapshots');
      await view.panel.getByRole('button', { name: 'Take snapshot' }).click();
      const dialog = app.page.getByRole('dialog', { name: `Take a snapshot of ${VM}` });
      await dialog.getByRole('textbox', { name: 'Name' }).fill('with-share');
      await dialog.getByRole('button', { name: 'Take snapshot' }).click();
      const diskOnly = dialog.getByRole('button', { name: 'Take a disk-only snapshot' });
      await expect(diskOnly).toBeVisible({ timeout: 60_000 });
      await app.page.screenshot({ path: info.outputPath('snapshot-disk-only-offer.png') });
      await diskOnly.click();
      await expect(dialog).toHaveCount(0, { timeout: 120_000 });
      await expect(view.snapshotRow('with-share').getByText('Disks only')).toBeVisible();
      await view.root.getByRole('button', { name: 'Force stop' }).click();
      await app.page.getByRole('alertdialog').getByRole('button', { name: /Force stop/ }).click();
      await expect(app.page.getByTestId(`vm-${VM}-state`)).toHaveText('stopped', { timeout: 60_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('5. files sent from the Files tab arrive whole (one of several chunks too), and a guest file downloads', async () => {
    const info = test.info();
    // a VM of its own: keeper's shared folder is gone with test 4's directory (its start says so)
    const FILES_VM = 'carrier';
    const made = cli(app.home, ['create', FILES_VM, '--memory', '256']);
    expect(made.status, made.stderr).toBe(0);
    await new VmViewPage(app.page, VM).back();
    const tiles = new TilesPage(app.page);
    await tiles.tile(FILES_VM).open();
    const view = new VmViewPage(app.page, FILES_VM);
    await view.selectTab('Files');
    // stopped: the tab says what to do, and offers nothing that would fail
    await expect(view.panel.getByRole('status')).toContainText(`Start ${FILES_VM} to send files`);
    await expect(view.panel.getByRole('button', { name: 'Choose files…' })).toBeDisabled();
    await view.root.getByRole('button', { name: 'Start', exact: true }).click();
    await expect(app.page.getByTestId(`vm-${FILES_VM}-state`)).toHaveText('running', { timeout: 150_000 });
    await expect(view.panel.getByRole('button', { name: 'Choose files…' })).toBeEnabled({ timeout: 120_000 });
    // the header says what the guest's agent says it runs (the built-in Linux: its kernel), and its address
    await expect(view.root.getByTestId('guest-os')).toHaveText(/^kernel \d+\.\d+\./, { timeout: 30_000 });
    await expect(view.root.getByTestId('vm-ip')).toHaveText('10.0.2.15', { timeout: 30_000 });

    const note = Buffer.from(`hello from the host ${Date.now()}\n`);
    // one 4 MiB chunk (SEND_CHUNK_BYTES) and a few bytes: more than one chunk each way
    const big = randomBytes(4 * 1024 * 1024 + 7);
    await view.panel.getByLabel('Files to send').setInputFiles([
      { name: 'note.txt', mimeType: 'text/plain', buffer: note },
      { name: 'big.bin', mimeType: 'application/octet-stream', buffer: big },
    ]);
    const sent = (name: string) => view.panel.getByRole('listitem', { name: `Send ${name}` });
    await expect(sent('note.txt').getByTestId('transfer-done')).toContainText('sent', { timeout: 60_000 });
    await expect(sent('big.bin').getByTestId('transfer-done')).toContainText('4.0 MiB sent', { timeout: 180_000 });
    await expect(sent('big.bin')).toContainText('to /root/big.bin');
    expect(await seriousViolations(app.page)).toEqual([]);
    await app.page.screenshot({ path: info.outputPath('files-sent.png') });
    const sums = await guest('sha256sum /root/note.txt /root/big.bin; ls -a /root', FILES_VM);
    expect(sums).toContain(`${createHash('sha256').update(note).digest('hex')}  /root/note.txt`);
    expect(sums).toContain(`${createHash('sha256').update(big).digest('hex')}  /root/big.bin`);
    expect(sums).not.toContain('flotilla-part');

    // dropped on the drop zone, into another folder
    await view.selectTab('Files');
    await view.panel.getByRole('textbox', { name: 'Folder in the VM' }).fill('/tmp');
    // (a string: the e2e project has no DOM types)
    const dropped = await app.page.evaluateHandle(`(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['dropped on the tile\\n'], 'dropped.txt', { type: 'text/plain' }));
      return dt;
    })()`);
    await view.panel.getByText('Drop files here to send them to /tmp').dispatchEvent('drop', { dataTransfer: dropped });
    await expect(sent('dropped.txt').getByTestId('transfer-done')).toContainText('20 B sent', { timeout: 60_000 });
    expect(await guest('cat /tmp/dropped.txt', FILES_VM)).toContain('dropped on the tile');

    // a send an earlier try cut short (its part file in the guest, as a lost engine leaves it)
    // carries on from that part, and the row says so
    const whole = randomBytes(6 * 1024 * 1024);
    const half = info.outputPath('resume-half.bin');
    writeFileSync(half, whole.subarray(0, 4 * 1024 * 1024));
    const placed = cli(app.home, ['cp', half, `${FILES_VM}:/tmp/resume.bin.flotilla-part`]);
    expect(placed.status, placed.stderr).toBe(0);
    await view.selectTab('Files');
    // the folder typed before the other tabs is still there
    await expect(view.panel.getByRole('textbox', { name: 'Folder in the VM' })).toHaveValue('/tmp');
    await view.panel.getByLabel('Files to send').setInputFiles([{ name: 'resume.bin', mimeType: 'application/octet-stream', buffer: whole }]);
    await expect(sent('resume.bin').getByTestId('transfer-done')).toHaveText('6.0 MiB sent, 4.0 MiB of it resumed from an earlier try', { timeout: 120_000 });
    const resumed = await guest('sha256sum /tmp/resume.bin; ls -a /tmp', FILES_VM);
    expect(resumed).toContain(`${createHash('sha256').update(whole).digest('hex')}  /tmp/resume.bin`);
    expect(resumed).not.toContain('flotilla-part');

    // and back out, as a download under the guest file's name
    await view.selectTab('Files');
    for (const [name, bytes] of [['note.txt', note], ['big.bin', big]] as const) {
      await view.panel.getByRole('textbox', { name: 'Path of a file in the VM' }).fill(`/root/${name}`);
      const [download] = await Promise.all([app.page.waitForEvent('download', { timeout: 120_000 }), view.panel.getByRole('button', { name: 'Download' }).click()]);
      expect(download.suggestedFilename()).toBe(name);
      // big.bin comes in two ranges, one download
      expect(readFileSync(await download.path()).equals(bytes)).toBe(true);
    }
    // a file the guest does not have: the agent's words, on that transfer's row
    await view.panel.getByRole('textbox', { name: 'Path of a file in the VM' }).fill('/root/not-there');
    await view.panel.getByRole('button', { name: 'Download' }).click();
    await expect(view.panel.getByRole('listitem', { name: 'Get not-there' }).getByRole('alert')).toContainText('No such file or directory');
    await app.page.screenshot({ path: info.outputPath('files-tab.png') });
  });

  test('6. a disk is added, grown and removed in Settings; one a snapshot needs stays until the snapshot goes', async () => {
    const info = test.info();
    const DISKS_VM = 'storage';
    const made = cli(app.home, ['create', DISKS_VM, '--memory', '128', '--json']);
    expect(made.status, made.stderr).toBe(0);
    const vmId = (JSON.parse(made.stdout) as { id: string }).id;
    const vmDir = join(app.home, 'vms', vmId);
    // straight to its Settings by the VM's own address, wherever the page was
    await app.page.evaluate(`location.hash = '#/vm/${vmId}/settings'`);
    const view = new VmViewPage(app.page, DISKS_VM);
    await expect(view.tab('Settings')).toHaveAttribute('aria-selected', 'true');
    // stopped: no "No IP yet" in its header, as there is no address to wait for
    await expect(view.root.getByTestId('vm-ip')).toHaveCount(0);
    const section = view.panel.getByRole('region', { name: 'Disks' });
    const row = (name: string) => section.getByTestId(`disk-${name}`);
    await expect(row('disk.qcow2')).toBeVisible();
    // the disk the VM was made with has no Remove
    await expect(row('disk.qcow2').getByRole('button', { name: /^Remove/ })).toHaveCount(0);

    await section.getByRole('button', { name: 'Add disk…' }).click();
    const add = app.page.getByRole('dialog', { name: `Add a disk to ${DISKS_VM}` });
    await add.getByRole('spinbutton', { name: 'Size (GiB)' }).fill('2');
    await add.getByRole('button', { name: 'Add disk' }).click();
    await expect(add).toHaveCount(0);
    await expect(row('extra-1.qcow2')).toContainText('2.0 GiB');
    // where the built-in Linux will have it
    await expect(row('extra-1.qcow2')).toContainText('at /mnt/extra-1 in the guest');
    await row('extra-1.qcow2').getByRole('spinbutton', { name: 'Grow extra-1.qcow2 to (GiB)' }).fill('3');
    await row('extra-1.qcow2').getByRole('button', { name: 'Grow' }).click();
    await expect(row('extra-1.qcow2')).toContainText('3.0 GiB');

    // a snapshot taken elsewhere (the CLI) holds the disk: the row says so and Remove waits
    expect(cli(app.home, ['snapshot', 'create', DISKS_VM, 'pinned']).status).toBe(0);
    const remove = row('extra-1.qcow2').getByRole('button', { name: 'Remove extra-1.qcow2' });
    await expect(row('extra-1.qcow2')).toContainText('Kept: the snapshot pinned needs it to go back; delete that snapshot first');
    await expect(remove).toBeDisabled();
    await row('extra-1.qcow2').scrollIntoViewIfNeeded();
    await app.page.screenshot({ path: info.outputPath('disks-kept.png') });
    expect(cli(app.home, ['snapshot', 'rm', DISKS_VM, 'pinned']).status).toBe(0);
    await expect(remove).toBeEnabled();

    await remove.click();
    const confirm = app.page.getByRole('alertdialog', { name: `Remove extra-1.qcow2 from ${DISKS_VM}?` });
    await expect(confirm).toContainText('Its file is deleted, with everything on it (3.0 GiB disk');
    expect(await seriousViolations(app.page)).toEqual([]);
    await app.page.screenshot({ path: info.outputPath('disk-remove-confirm.png') });
    await confirm.getByRole('button', { name: 'Remove disk' }).click();
    await expect(confirm).toHaveCount(0);
    await expect(row('extra-1.qcow2')).toHaveCount(0);
    await expect(row('disk.qcow2')).toBeVisible();
    expect(readdirSync(vmDir).filter((f) => f.endsWith('.qcow2'))).toEqual(['disk.qcow2']);
  });
});
