// The serial console in xterm.js: scrollback on open, live output, typing goes to the guest,
// copy/paste with buttons or Ctrl+Shift+C / Ctrl+Shift+V, always fitted to the pane.
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, type ReactElement } from 'react';
import { LOCAL_HOST } from '../../../../shared/contract-names';
import { isActive } from '../../../../shared/state';
import { Icon } from '../../components/icons';
import { sendConsoleInput } from '../../store/actions';
import { acquire, addConsoleSink } from '../../store/streams';
import { useStore } from '../../store/store';

function themeFromCss(): { background: string; foreground: string; cursor: string; selectionBackground: string } {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string): string => css.getPropertyValue(name).trim() || fallback;
  return { background: v('--term-bg', '#0d1117'), foreground: v('--term-fg', '#e6edf3'), cursor: v('--accent', '#6e7bff'), selectionBackground: v('--term-sel', '#3b4a7a') };
}

export function ConsoleTab({ id }: { id: string }): ReactElement {
  const host = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | null>(null);
  const active = useStore((s) => (s.vms.byId[id] ? isActive(s.vms.byId[id]) : false));
  const name = useStore((s) => s.vms.byId[id]?.name ?? '');
  // where the guest's side is: the built-in Linux's shell runs on the pty its relay joins to a
  // virtio-serial port (local, and libvirt domains that have the port: the host says so) or on a
  // virtio console (libvirt domains made before the port); other VMs get the first UART
  const device = useStore((s) => {
    const vm = s.vms.byId[id];
    if (vm?.consoleDevice) return vm.consoleDevice;
    if (vm?.spec.source.kind !== 'default') return 'serial, ttyS0';
    return vm.host === LOCAL_HOST ? 'virtio-serial, /dev/flotilla-console' : 'virtio console, hvc0';
  });

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const term = new Terminal({
      fontFamily: 'ui-monospace, "SF Mono", "JetBrains Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 13,
      lineHeight: 1.2,
      scrollback: 5000,
      cursorBlink: true,
      convertEol: false,
      allowProposedApi: false,
      theme: themeFromCss(),
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(el);
    termRef.current = term;
    const safeFit = (): void => {
      try {
        fit.fit();
      } catch {
        /* not laid out yet */
      }
    };
    safeFit();
    const existing = useStore.getState().consoles.text[id];
    if (existing) term.write(existing);
    const offSink = addConsoleSink(id, {
      data: (chunk) => term.write(chunk),
      reset: (all) => {
        term.reset();
        term.write(all);
      },
    });
    const release = acquire('console', id);
    const onData = term.onData((d) => sendConsoleInput(id, d));
    term.attachCustomKeyEventHandler((e) => {
      if (e.type !== 'keydown' || !e.ctrlKey || !e.shiftKey) return true;
      if (e.code === 'KeyC') {
        const sel = term.getSelection();
        if (sel) void navigator.clipboard?.writeText(sel).catch(() => {});
        return false;
      }
      if (e.code === 'KeyV') {
        void navigator.clipboard
          ?.readText()
          .then((t) => t && term.paste(t))
          .catch(() => {});
        return false;
      }
      return true;
    });
    const ro = new ResizeObserver(() => safeFit());
    ro.observe(el);
    term.focus();
    return () => {
      ro.disconnect();
      onData.dispose();
      offSink();
      release();
      term.dispose();
      termRef.current = null;
    };
  }, [id]);

  const copy = (): void => {
    const sel = termRef.current?.getSelection();
    if (sel) void navigator.clipboard?.writeText(sel).catch(() => {});
  };
  const paste = (): void => {
    void navigator.clipboard
      ?.readText()
      .then((t) => t && termRef.current?.paste(t))
      .catch(() => {});
  };

  return (
    <div className="console-tab">
      <div className="pane-bar">
        <span className="muted">{active ? `Console (${device}). Ctrl+Shift+C / Ctrl+Shift+V to copy and paste.` : `${name} is not running. Start it to use the console.`}</span>
        <span className="spacer" />
        <button type="button" className="btn btn-sm" onClick={copy}>
          <Icon name="copy" size={14} /> Copy
        </button>
        <button type="button" className="btn btn-sm" onClick={paste}>
          Paste
        </button>
      </div>
      <div className="terminal-host" role="region" aria-label={`Console of ${name}`}>
        <div className="terminal-fit" ref={host} />
      </div>
    </div>
  );
}
