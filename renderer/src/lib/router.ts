// Per-VM URLs (issue 14 #2). The store stays the one source of truth for what is open; this
// module mirrors `ui.openVmId` and `ui.tab` into the address bar's fragment and back:
//   (no fragment)          the tiles
//   #/vm/<id>/<tab>        one VM on one tab
// Opening or closing a VM pushes a history entry (Back and Forward move between the tiles and
// VM views); switching tabs replaces it, so Back leaves the VM instead of walking its tabs.
// A fragment is never sent in a request, and the access token is not in it: token.ts moves
// the token to sessionStorage before this runs, so a reload in the tab lands where it was.
import type { VmInfo } from '../../../shared/contract';
import { useStore, type StoreState, type VmTab } from '../store/store';

export const VM_TABS: readonly VmTab[] = ['console', 'display', 'exec', 'files', 'snapshots', 'logs', 'settings'];
const ID_RE = /^[a-z0-9]{8,32}$/;

export interface Route {
  vmId: string | null;
  /** null when the URL names no (known) tab: the VM's default tab */
  tab: VmTab | null;
}

export function parseRoute(hash: string): Route {
  const m = /^#?\/vm\/([^/]+)(?:\/([^/?#]*))?\/?$/.exec(hash);
  if (!m || !ID_RE.test(m[1] ?? '')) return { vmId: null, tab: null };
  const tab = VM_TABS.find((t) => t === m[2]) ?? null;
  return { vmId: m[1]!, tab };
}

export function formatRoute(vmId: string | null, tab: VmTab): string {
  return vmId ? `#/vm/${vmId}/${tab}` : '';
}

/** A graphical VM opens on its screen, a headless one on its serial console. */
export function defaultTabFor(vm: Pick<VmInfo, 'hasDisplay'> | undefined): VmTab {
  return vm?.hasDisplay ? 'display' : 'console';
}

/** How the address bar should change for a new store state: push, replace, or leave it. */
export function historyStep(currentHash: string, s: Pick<StoreState, 'ui' | 'vms'>): { mode: 'push' | 'replace'; hash: string } | null {
  const hash = formatRoute(s.ui.openVmId, s.ui.tab);
  const here = currentHash === '#' ? '' : currentHash;
  if (hash === here) return null;
  const was = parseRoute(here).vmId;
  // a tab switch, or the open VM was deleted: no new entry to go Back to
  const replace = was === s.ui.openVmId || (was !== null && s.vms.loaded && !s.vms.byId[was]);
  return { mode: replace ? 'replace' : 'push', hash };
}

function applyRoute(r: Route): void {
  const s = useStore.getState();
  const tab = r.vmId ? (r.tab ?? defaultTabFor(s.vms.byId[r.vmId])) : s.ui.tab;
  if (s.ui.openVmId === r.vmId && s.ui.tab === tab) return;
  useStore.setState({ ui: { ...s.ui, openVmId: r.vmId, tab } });
}

/** Start mirroring; returns a function that stops it. */
export function startRouter(win: Window = window): () => void {
  const fromUrl = (): void => applyRoute(parseRoute(win.location.hash));
  fromUrl();
  const unsubscribe = useStore.subscribe((s) => {
    const step = historyStep(win.location.hash, s);
    if (!step) return;
    const url = win.location.pathname + win.location.search + step.hash;
    if (step.mode === 'push') win.history.pushState(null, '', url);
    else win.history.replaceState(null, '', url);
  });
  win.addEventListener('popstate', fromUrl);
  win.addEventListener('hashchange', fromUrl);
  return () => {
    unsubscribe();
    win.removeEventListener('popstate', fromUrl);
    win.removeEventListener('hashchange', fromUrl);
  };
}
