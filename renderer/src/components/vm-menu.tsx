// The VM's menu (⋯ beside its buttons): Clone, Export and Add disk. An item the VM's host cannot
// do is left out; one its state forbids is disabled and says why (shared/offers.ts decides both).
import { useEffect, useRef, useState, type KeyboardEvent, type ReactElement } from 'react';
import { offerOp, type VmOp } from '../../../shared/offers';
import { openDialog } from '../store/actions';
import { useStore, type Dialog } from '../store/store';
import { Icon } from './icons';

const ITEMS: { op: VmOp; label: string; dialog: (id: string) => Dialog }[] = [
  { op: 'clone', label: 'Clone…', dialog: (id) => ({ kind: 'clone', id }) },
  { op: 'export', label: 'Export…', dialog: (id) => ({ kind: 'export', id }) },
  { op: 'addDisk', label: 'Add disk…', dialog: (id) => ({ kind: 'addDisk', id }) },
];

export function VmMenu({ id, disabled }: { id: string; disabled: boolean }): ReactElement | null {
  const vm = useStore((s) => s.vms.byId[id]);
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const items = useRef<(HTMLButtonElement | null)[]>([]);
  useEffect(() => {
    if (!open) return;
    const away = (e: MouseEvent): void => {
      if (!root.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', away);
    items.current.find((b) => b && !b.disabled)?.focus();
    return () => document.removeEventListener('mousedown', away);
  }, [open]);
  if (!vm) return null;
  const shown = ITEMS.map((it) => ({ ...it, offer: offerOp(vm, it.op) })).filter((it) => it.offer.shown);
  if (shown.length === 0) return null;
  const onKey = (e: KeyboardEvent): void => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      setOpen(false);
      root.current?.querySelector<HTMLButtonElement>('button')?.focus();
      return;
    }
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    const live = items.current.filter((b): b is HTMLButtonElement => !!b && !b.disabled);
    const at = live.indexOf(document.activeElement as HTMLButtonElement);
    live[(at + (e.key === 'ArrowDown' ? 1 : -1) + live.length) % live.length]?.focus();
  };
  return (
    <div className="menu-root" ref={root} onKeyDown={onKey}>
      <button
        type="button"
        className="icon-btn"
        aria-label={`More actions for ${vm.name}`}
        title="More actions"
        aria-haspopup="menu"
        aria-expanded={open}
        disabled={disabled}
        onClick={() => setOpen((o) => !o)}
      >
        <Icon name="more" />
      </button>
      {open && (
        <div className="menu" role="menu" aria-label={`${vm.name} actions`}>
          {shown.map((it, i) => {
            const reason = it.offer.shown ? it.offer.disabledReason : null;
            return (
              <button
                key={it.op}
                ref={(el) => {
                  items.current[i] = el;
                }}
                type="button"
                role="menuitem"
                className="menu-item"
                disabled={reason !== null}
                title={reason ?? undefined}
                onClick={() => {
                  setOpen(false);
                  openDialog(it.dialog(id));
                }}
              >
                <span>{it.label}</span>
                {reason && <span className="menu-why">{reason}</span>}
              </button>
            );
          })}
        </div>
      )}
    </div>
  );
}
