// Global single-key shortcuts. They never fire while typing in a field or a terminal, or
// with a modifier held, so they don't steal keys from the guest.
import { useEffect } from 'react';
import { canStart, canStop } from '../../../shared/state';
import { closeDialog, closeVm, openDialog, openVm, requestFilterFocus, startVm, stopVm } from '../store/actions';
import { useStore } from '../store/store';

function typingIn(el: Element | null): boolean {
  if (!el) return false;
  const h = el as HTMLElement;
  return h.isContentEditable || el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || !!el.closest('.xterm, .display-screen');
}

export function handleShortcut(e: KeyboardEvent): boolean {
  if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return false;
  const s = useStore.getState();
  if (e.key === 'Escape') {
    if (s.ui.dialog) closeDialog();
    else if (s.ui.openVmId && !typingIn(document.activeElement)) closeVm();
    else return false;
    return true;
  }
  if (typingIn(document.activeElement) || s.ui.dialog) return false;
  switch (e.key) {
    case 'n':
      openDialog({ kind: 'create' });
      return true;
    case '/':
      requestFilterFocus();
      return true;
    case '?':
      openDialog({ kind: 'help' });
      return true;
    case 's': {
      const id = s.ui.openVmId ?? s.ui.focusedId;
      const vm = id ? s.vms.byId[id] : undefined;
      if (!vm || !id || s.vms.ops[id]?.pending) return false;
      if (canStart(vm)) void startVm(id);
      else if (canStop(vm)) void stopVm(id);
      else return false;
      return true;
    }
    case 'Enter': {
      const el = document.activeElement;
      if (!s.ui.openVmId && s.ui.focusedId && el?.classList.contains('tile')) {
        openVm(s.ui.focusedId);
        return true;
      }
      return false;
    }
    default:
      return false;
  }
}

export function useShortcuts(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (handleShortcut(e)) e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}
