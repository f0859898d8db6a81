// Run a command in the guest through its agent; shows stdout, stderr and the exit code, and
// keeps a history (newest first) for this session.
import { useState, type FormEvent, type ReactElement } from 'react';
import { isActive } from '../../../../shared/state';
import { InlineError } from '../../components/inline-error';
import { execInVm } from '../../store/actions';
import { useStore, type ExecEntry } from '../../store/store';

const NO_HISTORY: ExecEntry[] = [];

function ExecItem({ e }: { e: ExecEntry }): ReactElement {
  const r = e.result;
  return (
    <li className="exec-item" aria-label={`Command ${e.command}`}>
      <div className="exec-head">
        <code className="exec-cmd">$ {e.command}</code>
        <span className="spacer" />
        {r ? (
          <span className={`exit ${r.exitCode === 0 ? 'exit-ok' : 'exit-bad'}`} data-testid="exec-exit">
            exit {r.exitCode ?? `signal ${r.signal ?? '?'}`}
          </span>
        ) : e.error ? null : (
          <span className="pending">
            <span className="spinner" aria-hidden="true" /> running
          </span>
        )}
      </div>
      {r && r.stdout && (
        <pre className="exec-out" aria-label="stdout" data-testid="exec-stdout">
          {r.stdout}
        </pre>
      )}
      {r && r.stderr && (
        <pre className="exec-err" aria-label="stderr" data-testid="exec-stderr">
          {r.stderr}
        </pre>
      )}
      {r && r.truncated && <p className="hint">Output was truncated by the guest agent.</p>}
      {e.error && <InlineError error={e.error} />}
    </li>
  );
}

export function ExecTab({ id }: { id: string }): ReactElement {
  const history = useStore((s) => s.consoles.exec[id] ?? NO_HISTORY);
  const agent = useStore((s) => s.vms.byId[id]?.agent ?? 'unknown');
  const active = useStore((s) => (s.vms.byId[id] ? isActive(s.vms.byId[id]) : false));
  const [cmd, setCmd] = useState('');
  const [cursor, setCursor] = useState(-1);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const c = cmd.trim();
    if (!c) return;
    setCmd('');
    setCursor(-1);
    void execInVm(id, c);
  };
  const past = [...history].reverse();
  return (
    <div className="exec-tab">
      <form className="exec-form" onSubmit={submit}>
        <label htmlFor="exec-input" className="visually-hidden">
          Command to run in the guest
        </label>
        <span className="prompt" aria-hidden="true">
          $
        </span>
        <input
          id="exec-input"
          type="text"
          spellCheck={false}
          autoComplete="off"
          placeholder={active ? 'uname -a' : 'Start the VM to run commands'}
          value={cmd}
          onChange={(e) => setCmd(e.target.value)}
          onKeyDown={(e) => {
            // shell-like history with the arrow keys
            if (e.key !== 'ArrowUp' && e.key !== 'ArrowDown') return;
            e.preventDefault();
            const next = Math.max(-1, Math.min(past.length - 1, cursor + (e.key === 'ArrowUp' ? 1 : -1)));
            setCursor(next);
            setCmd(next < 0 ? '' : (past[next]?.command ?? ''));
          }}
        />
        <button type="submit" className="btn btn-primary btn-sm" disabled={!cmd.trim()}>
          Run
        </button>
      </form>
      <p className="hint">
        Runs through <code>/bin/sh -c</code> via the guest agent ({agent === 'ready' ? 'ready' : agent}).
      </p>
      <ol className="exec-history" aria-label="Command history">
        {past.map((e) => (
          <ExecItem key={e.n} e={e} />
        ))}
      </ol>
    </div>
  );
}
