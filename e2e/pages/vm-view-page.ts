// Page object for one opened VM: its tabs and what each tab offers.
import { expect, type Locator, type Page } from '@playwright/test';

type TabName = 'Console' | 'Display' | 'Exec' | 'Files' | 'Snapshots' | 'Logs' | 'Settings';

export class VmViewPage {
  readonly root: Locator;
  constructor(
    readonly page: Page,
    readonly name: string,
  ) {
    this.root = page.getByRole('main').getByRole('region', { name: `VM ${name}`, exact: true });
  }

  tab(name: TabName): Locator {
    return this.root.getByRole('tab', { name });
  }

  async selectTab(name: TabName): Promise<void> {
    await this.tab(name).click();
    await expect(this.tab(name)).toHaveAttribute('aria-selected', 'true');
  }

  get panel(): Locator {
    return this.root.getByRole('tabpanel');
  }

  async back(): Promise<void> {
    await this.root.getByRole('button', { name: 'All VMs' }).click();
  }

  // ---- console
  get terminal(): Locator {
    return this.panel.getByRole('region', { name: `Console of ${this.name}` });
  }

  get terminalInput(): Locator {
    return this.terminal.getByRole('textbox', { name: 'Terminal input' });
  }

  async typeInConsole(text: string): Promise<void> {
    await this.terminal.click();
    await this.page.keyboard.type(text, { delay: 20 });
  }

  // ---- exec
  get commandInput(): Locator {
    return this.panel.getByRole('textbox', { name: 'Command to run in the guest' });
  }

  async exec(command: string): Promise<Locator> {
    await this.commandInput.fill(command);
    await this.panel.getByRole('button', { name: 'Run' }).click();
    return this.panel.getByRole('list', { name: 'Command history' }).getByRole('listitem', { name: `Command ${command}` }).first();
  }

  // ---- snapshots
  get snapshotTable(): Locator {
    return this.panel.getByRole('table', { name: `Snapshots of ${this.name}` });
  }

  snapshotRow(snap: string): Locator {
    return this.snapshotTable.getByRole('row').filter({ has: this.page.getByRole('rowheader', { name: snap, exact: true }) });
  }

  // ---- display
  get display(): Locator {
    return this.panel.getByRole('region', { name: `Display of ${this.name}` });
  }
}
