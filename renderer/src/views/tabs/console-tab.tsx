// The serial console in xterm.js: scrollback on open, live output, typing goes to the guest,
// copy/paste with buttons or Ctrl+Shift+C / Ctrl+Shift+V, find in the scrollback with Ctrl+Shift+F
// (xterm's search addon: every match highlighted, "3 of 12"), text size with Ctrl+= / Ctrl+- /
// Ctrl+0, always fitted to the pane (and the guest's pty to the terminal).
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon, type ISearchOptions } from '@xterm/addon-search';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState, type KeyboardEvent, type ReactElement } from 'react';
import { LOCAL_HOST } from '../../../../shared/contract-names';
import { isActive } from '../../../../shared/state';
import { terminalText } from '../../../../shared/terminal-text';
import { Icon } from '../../components/icons';
import { CONSOLE_FONT_DEFAULT, loadConsoleFont, nextFontSize, saveConsoleFont, zoomKey } from '../../lib/console-font';
import { sendConsoleInput, sendConsoleSize } from '../../store/actions';
import { acquire, addConsoleSink } from '../../store/streams';
import { useStore } from '../../store/store';

function themeFromCss(): { background: string; foreground: string; cursor: string; selectionBackground: string } {
  const css = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string): string => css.getPropertyValue(name).trim() || fallback;
  return { background: v('--term-bg', '#0d1117'), foreground: v('--term-fg', '#e6edf3'), cursor: v('--accent', '#6e7bff'), selectionBackground: v('--term-sel', '#3b4a7a') };
}

// matches in amber on the dark terminal, the current one brighter (the addon takes #RRGGBB only)
const FIND: ISearchOptions = {
  decorations: { matchBackground: '#5c4a00', matchBorder: '#8f7400', matchOverviewRuler: '#8f7400', activeMatchBackground: '#b07d00', activeMatchBorder: '#ffd24d', activeMatchColorOverviewRuler: '#ffd24d' },
};

/** "3 of 12", "No matches", or "over 1000" when the addon stops counting. */
export function findResultText(r: { resultIndex: number; resultCount: number } | null): string {
  if (!r) return '';
  if (r.resultCount === 0) return 'No matches';
  if (r.resultIndex < 0) return `${r.resultCount}+ matches`;
  return `${r.resultIndex + 1} of ${r.resultCount}`;
}

/**
 * The bar floats over the terminal's top right corner, so a match there would be under it: the
 * terminal scrolls up the few lines that bring the current match (the selection the addon made)
 * out from under the bar, when there are lines above to scroll to.
 */
function uncover(term: Terminal, bar: HTMLElement | null): void {
  const at = term.getSelectionPosition();
  const screen = term.element?.querySelector('.xterm-screen')?.getBoundingClientRect();
  if (!at || !bar || !screen || term.rows === 0 || term.cols === 0) return;
  const cellW = screen.width / term.cols;
  const cellH = screen.height / term.rows;
  const row = at.start.y - term.buffer.active.viewportY;
  const top = screen.top + row * cellH;
  const left = screen.left + at.start.x * cellW;
  const right = at.end.y === at.start.y ? screen.left + at.end.x * cellW : screen.right;
  const b = bar.getBoundingClientRect();
  if (row < 0 || top >= b.bottom || right <= b.left || left >= b.right) return;
  const lines = Math.min(Math.ceil((b.bottom - top) / cellH), term.buffer.active.viewportY);
  if (lines > 0) term.scrollLines(-lines);
}

/**
 * The find bar. As a terminal's: typing finds the newest match (the bottom of the scrollback), Enter
 * goes up to older ones and Shift+Enter back down, Esc closes it. The current match keeps its place
 * when the pane is resized (see onResize below).
 */
function ConsoleFind({ term, search, focusRequest, onClose }: { term: Terminal; search: SearchAddon; focusRequest: number; onClose: () => void }): ReactElement {
  const [query, setQuery] = useState('');
  const [result, setResult] = useState<{ resultIndex: number; resultCount: number } | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const bar = useRef<HTMLDivElement>(null);
  // for the resize handling, which runs outside React's render
  const queryRef = useRef('');
  const resultRef = useRef(result);
  /** after a resize: the current match, counted from the newest, to go back to */
  const keepFromNewest = useRef<number | null>(null);
  useEffect(() => {
    const sub = search.onDidChangeResults((r) => {
      const back = keepFromNewest.current;
      keepFromNewest.current = null;
      // the addon's search again after the resize: step from where it landed to the kept match
      // (each step fires this again, with nothing kept; the last one sets the count). After this
      // event, not in it: the addon notes the query as searched only once its listeners return,
      // and a step before that only finds the same match again.
      const q = queryRef.current;
      const target = back === null ? r.resultIndex : r.resultCount - 1 - back;
      if (q && r.resultIndex >= 0 && target >= 0 && target !== r.resultIndex) {
        queueMicrotask(() => {
          if (queryRef.current !== q) return;
          for (let i = r.resultIndex; i > target; i--) search.findPrevious(q, FIND);
          for (let i = r.resultIndex; i < target; i++) search.findNext(q, FIND);
        });
        return;
      }
      resultRef.current = r;
      setResult(r);
      if (r.resultIndex >= 0) uncover(term, bar.current);
    });
    // A resize reflows the lines, and xterm drops the selection (the addon's current match) when
    // the rows change; the addon then searches again from the bottom, 200 ms later, and "3 of 12"
    // became "12 of 12". The match counted from the newest is kept instead (newest, as output
    // that arrives meanwhile adds at the bottom and a narrower pane can push the oldest out).
    const resized = term.onResize(() => {
      const r = resultRef.current;
      if (queryRef.current && r && r.resultIndex >= 0) keepFromNewest.current ??= r.resultCount - 1 - r.resultIndex;
    });
    return () => {
      sub.dispose();
      resized.dispose();
      search.clearDecorations();
    };
  }, [term, search]);
  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, [focusRequest]);
  const older = (): void => {
    keepFromNewest.current = null;
    if (query) search.findPrevious(query, FIND);
  };
  const newer = (): void => {
    keepFromNewest.current = null;
    if (query) search.findNext(query, FIND);
  };
  const change = (q: string): void => {
    setQuery(q);
    queryRef.current = q;
    keepFromNewest.current = null;
    // from the bottom up; a longer query keeps the match it extends
    if (q) search.findPrevious(q, { ...FIND, incremental: true });
    else {
      search.clearDecorations();
      resultRef.current = null;
      setResult(null);
    }
  };
  const keys = (e: KeyboardEvent<HTMLInputElement>): void => {
    if (e.key === 'Enter') {
      e.preventDefault();
      if (e.shiftKey) newer();
      else older();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      onClose();
    }
  };
  return (
    <div ref={bar} className="console-find" role="search" aria-label="Find in console">
      <Icon name="search" size={14} />
      <input ref={input} type="text" role="searchbox" aria-label="Find in console" placeholder="Find" spellCheck={false} value={query} onChange={(e) => change(e.target.value)} onKeyDown={keys} />
      <span className="console-find-count" role="status">
        {query ? findResultText(result) : ''}
      </span>
      <button type="button" className="btn btn-sm btn-ghost" aria-label="Older match" title="Older match (Enter)" disabled={!query} onClick={older}>
        <Icon name="up" size={14} />
      </button>
      <button type="button" className="btn btn-sm btn-ghost" aria-label="Newer match" title="Newer match (Shift+Enter)" disabled={!query} onClick={newer}>
        <Icon name="down" size={14} />
      </button>
      <button type="button" className="btn btn-sm btn-ghost" aria-label="Close find" onClick={onClose}>
        <Icon name="close" size={14} />
      </button>
    </div>
  );
}

export function ConsoleTab({ id }: { id: string }): ReactElement {
  const host = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | null>(null);
  const [finder, setFinder] = useState<{ term: Terminal; search: SearchAddon } | null>(null);
  const [finding, setFinding] = useState(false);
  /** bumped by each Find (button or Ctrl+Shift+F): an open find bar takes the focus again */
  const [findRequest, setFindRequest] = useState(0);
  const active = useStore((s) => (s.vms.byId[id] ? isActive(s.vms.byId[id]) : false));
  const name = useStore((s) => s.vms.byId[id]?.name ?? '');
  const state = useStore((s) => s.vms.byId[id]?.state ?? 'stopped');
  // nothing to show yet (never started, or its console log was never written): say so in the
  // terminal's place instead of an empty black box; a VM that ran keeps its last output there
  const blank = useStore((s) => !s.consoles.text[id]);
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
      fontSize: loadConsoleFont(),
      lineHeight: 1.2,
      scrollback: 5000,
      cursorBlink: true,
      convertEol: false,
      // the search addon's match highlights are decorations, which xterm 6 still files under its
      // proposed API (a stability label: the API may change in a minor release; the version is
      // pinned by the lock file and the e2e find test would catch a change)
      allowProposedApi: true,
      theme: themeFromCss(),
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    const search = new SearchAddon({ highlightLimit: 1000 });
    term.loadAddon(search);
    setFinder({ term, search });
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
    // the scrollback without the terminal queries in it (the built-in shell's ESC[6n, an editor's
    // ESC[>c): xterm answers a query through onData, and answers to ones asked long ago were
    // typed into whatever reads the console now. Live output asks now, and is answered.
    const existing = useStore.getState().consoles.text[id];
    if (existing) term.write(terminalText(existing, 'replay'));
    const offSink = addConsoleSink(id, {
      data: (chunk) => term.write(chunk),
      reset: (all) => {
        term.reset();
        term.write(terminalText(all, 'replay'));
      },
    });
    const release = acquire('console', id);
    const onData = term.onData((d) => sendConsoleInput(id, d));
    term.attachCustomKeyEventHandler((e) => {
      // text size, as terminals zoom (console-font.ts): the browser's page zoom does not get it
      const zoom = zoomKey(e);
      if (zoom) {
        e.preventDefault();
        if (e.type === 'keydown') {
          const size = nextFontSize(term.options.fontSize ?? CONSOLE_FONT_DEFAULT, zoom);
          term.options.fontSize = size;
          saveConsoleFont(size);
          safeFit();
        }
        return false;
      }
      if (e.type !== 'keydown' || !e.ctrlKey || !e.shiftKey) return true;
      if (e.code === 'KeyC') {
        const sel = term.getSelection();
        if (sel) void navigator.clipboard?.writeText(sel).catch(() => {});
        return false;
      }
      if (e.code === 'KeyF') {
        setFinding(true);
        setFindRequest((n) => n + 1);
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
    // the guest's console pty follows the terminal's size (the engine sets it through the agent):
    // once the drag or the layout settles, not for every step of it
    let sizeTimer: ReturnType<typeof setTimeout> | undefined;
    const resized = term.onResize(() => {
      clearTimeout(sizeTimer);
      sizeTimer = setTimeout(() => sendConsoleSize(id, term.cols, term.rows), 150);
    });
    term.focus();
    return () => {
      clearTimeout(sizeTimer);
      resized.dispose();
      ro.disconnect();
      onData.dispose();
      offSink();
      release();
      term.dispose();
      termRef.current = null;
      setFinder(null);
    };
  }, [id]);
  // the size it opened with, and again for each boot (a new boot's shell starts on a new pty)
  const agentReady = useStore((s) => s.vms.byId[id]?.state === 'running' && s.vms.byId[id]?.agent === 'ready');
  useEffect(() => {
    const term = termRef.current;
    if (agentReady && term) sendConsoleSize(id, term.cols, term.rows);
  }, [agentReady, id]);
  const openFind = (): void => {
    setFinding(true);
    setFindRequest((n) => n + 1);
  };
  const closeFind = (): void => {
    setFinding(false);
    termRef.current?.focus();
  };

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
        <span className="muted">
          {active ? `Console (${device}). Ctrl+Shift+C / Ctrl+Shift+V to copy and paste, Ctrl+Shift+F to find.` : blank ? `Console (${device}).` : `${name} is not running. Start it to use the console.`}
        </span>
        <span className="spacer" />
        <button type="button" className="btn btn-sm" aria-pressed={finding} onClick={openFind}>
          <Icon name="search" size={14} /> Find
        </button>
        <button type="button" className="btn btn-sm" onClick={copy}>
          <Icon name="copy" size={14} /> Copy
        </button>
        <button type="button" className="btn btn-sm" onClick={paste}>
          Paste
        </button>
      </div>
      <div className="terminal-host" role="region" aria-label={`Console of ${name}`}>
        <div className="terminal-fit" ref={host} />
        {!active && blank && (
          <p className="terminal-blank">
            {name} is {state}: its console shows here once it starts.
          </p>
        )}
        {/* over the terminal's top right, as terminals' find bars are: opening it changes no
            layout, so the terminal keeps its rows (xterm drops the selection, which is the
            current match, when they change) */}
        {finding && finder && <ConsoleFind term={finder.term} search={finder.search} focusRequest={findRequest} onClose={closeFind} />}
      </div>
    </div>
  );
}
