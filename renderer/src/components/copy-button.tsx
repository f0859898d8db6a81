// Copies a string to the clipboard and says so for a moment.
import { useEffect, useState, type ReactElement } from 'react';
import { Icon } from './icons';

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

export function CopyButton({ text, label, className = 'icon-btn' }: { text: string; label: string; className?: string }): ReactElement {
  const [done, setDone] = useState(false);
  useEffect(() => {
    if (!done) return;
    const t = setTimeout(() => setDone(false), 1500);
    return () => clearTimeout(t);
  }, [done]);
  return (
    <button type="button" className={className} aria-label={done ? `Copied ${text}` : label} title={label} onClick={() => void writeClipboard(text).then(() => setDone(true))}>
      <Icon name={done ? 'check' : 'copy'} size={14} />
    </button>
  );
}
