// System / light / dark, in the top bar; remembered across reloads by lib/theme.
import type { ReactElement } from 'react';
import { isThemeChoice } from '../lib/theme';
import { setTheme } from '../store/actions';
import { useStore } from '../store/store';
import { Icon } from './icons';

export function ThemeSwitch(): ReactElement {
  const theme = useStore((s) => s.ui.theme);
  return (
    <label className="theme-switch" title="Theme">
      <Icon name="sun" size={14} />
      <select aria-label="Theme" value={theme} onChange={(e) => isThemeChoice(e.target.value) && setTheme(e.target.value)}>
        <option value="system">System</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}
