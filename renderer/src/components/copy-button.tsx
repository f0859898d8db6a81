// Copies a string to the clipboard and says so for a moment.
import { useEffect, useState, type ReactElement } from 'react';
import { Icon, type IconName } from './icons';

async function writeClipboard(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Clipboard API refused (no permission, insecure context): fall back to a selection copy.
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
}

/**
 * `text` is the string to copy, or a function that fetches it when clicked (the ssh command of a
 * built-in VM needs the engine to read the guest's host key first). A fetch that fails says why
 * in the button's label instead of copying something else.
 */
export function CopyButton({ text, label, className = 'icon-btn', icon = 'copy' }: { text: string | (() => Promise<string>); label: string; className?: string; icon?: IconName }): ReactElement {
  const [done, setDone] = useState<{ text: string } | { error: string } | null>(null);
  useEffect(() => {
    if (!done) return;
    const t = setTimeout(() => setDone(null), 'error' in done ? 6000 : 1500);
    return () => clearTimeout(t);
  }, [done]);
  const copy = async (): Promise<void> => {
    try {
      const value = typeof text === 'string' ? text : await text();
      await writeClipboard(value);
      setDone({ text: value });
    } catch (err) {
      setDone({ error: err instanceof Error ? err.message : String(err) });
    }
  };
  const shown = done === null ? label : 'error' in done ? `Could not copy: ${done.error}` : `Copied ${done.text}`;
  return (
    <button type="button" className={className} aria-label={shown} title={shown} onClick={() => void copy()}>
      <Icon name={done === null ? icon : 'error' in done ? 'alert' : 'check'} size={14} />
    </button>
  );
}
