// Page object for the tiles view, found by role and accessible name only, with the stable
// per-VM labels (`VM <name>` region, `vm-<name>-state`).
import { expect, type Locator, type Page } from '@playwright/test';

export class TilesPage {
  constructor(readonly page: Page) {}

  get startLinuxButton(): Locator {
    return this.page.getByRole('button', { name: 'Start a Linux VM' });
  }

  get newVmButton(): Locator {
    return this.page.getByRole('button', { name: 'New VM' });
  }

  get filter(): Locator {
    return this.page.getByRole('searchbox', { name: 'Filter VMs by name' });
  }

  get tiles(): Locator {
    return this.page.getByRole('list', { name: 'Virtual machines' }).getByRole('region', { name: /^VM / });
  }

  tile(name: string): VmTile {
    return new VmTile(this.page, name);
  }

  async waitLoaded(): Promise<void> {
    await expect(this.page.getByRole('status').filter({ hasText: 'Connecting to the engine' })).toHaveCount(0);
  }
}

export class VmTile {
  readonly root: Locator;
  constructor(
    readonly page: Page,
    readonly name: string,
  ) {
    this.root = page.getByRole('region', { name: `VM ${name}`, exact: true });
  }

  get state(): Locator {
    return this.page.getByTestId(`vm-${this.name}-state`).first();
  }

  async expectState(state: string, timeout = 150_000): Promise<void> {
    await expect(this.root.getByTestId(`vm-${this.name}-state`)).toHaveText(state, { timeout });
  }

  button(name: string): Locator {
    return this.root.getByRole('button', { name, exact: true });
  }

  get consoleThumb(): Locator {
    return this.root.getByRole('figure', { name: `Console of ${this.name}` });
  }

  get screenThumb(): Locator {
    return this.root.getByRole('img', { name: `Screen of ${this.name}` });
  }

  get cpuSparkline(): Locator {
    return this.root.getByRole('img', { name: /^CPU .* over the last 60 seconds$/ });
  }

  get memorySparkline(): Locator {
    return this.root.getByRole('img', { name: /^Memory .* over the last 60 seconds$/ });
  }

  get ports(): Locator {
    return this.root.getByRole('list', { name: `Forwarded ports of ${this.name}` }).getByRole('listitem');
  }

  get error(): Locator {
    return this.root.getByRole('alert');
  }

  agent(): Locator {
    return this.root.getByRole('definition').filter({ has: this.page.locator('.agent-dot') });
  }

  async open(): Promise<void> {
    await this.button('Open').click();
  }

  /** Open the VM's ⋯ menu and pick an item (Clone…, Export…, Add disk…). */
  async menu(item: string): Promise<void> {
    await this.button(`More actions for ${this.name}`).click();
    await this.page.getByRole('menu', { name: `${this.name} actions` }).getByRole('menuitem', { name: item }).click();
  }
}
