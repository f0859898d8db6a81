// Page object for the New VM dialog.
import type { Locator, Page } from '@playwright/test';

export type SourceChoice = 'Built-in Linux' | 'Install from ISO' | 'Disk image' | 'Kernel + initrd';

export class CreateVmDialog {
  readonly root: Locator;
  constructor(readonly page: Page) {
    this.root = page.getByRole('dialog', { name: 'New virtual machine' });
  }

  async chooseSource(s: SourceChoice): Promise<void> {
    await this.root.getByRole('radio', { name: new RegExp(`^${s.replace(/[+]/g, '\\+')}`) }).check();
  }

  field(label: string): Locator {
    return this.root.getByLabel(label, { exact: true });
  }

  /** The inline error text shown under a field (what aria-describedby points at). */
  async fieldError(label: string): Promise<string> {
    const input = this.field(label);
    const ids = ((await input.getAttribute('aria-describedby')) ?? '').split(/\s+/).filter(Boolean);
    const texts = await Promise.all(ids.map((id) => this.page.locator(`[id="${id}"]`).innerText()));
    return texts.join(' ');
  }

  get startAfterCreating(): Locator {
    return this.root.getByRole('checkbox', { name: 'Start after creating' });
  }

  async submit(): Promise<void> {
    await this.root.getByRole('button', { name: 'Create VM' }).click();
  }

  async cancel(): Promise<void> {
    await this.root.getByRole('button', { name: 'Cancel' }).click();
  }
}
