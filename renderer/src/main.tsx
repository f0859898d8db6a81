// Renderer entry: apply the theme, choose the transport (preload bridge or WebSocket), wire the
// store's one event subscription and the URL, render.
import { createRoot } from 'react-dom/client';
import { setApi } from './api/current';
import { selectApi } from './api/select-api';
import { App } from './app';
import { startRouter } from './lib/router';
import { initTheme } from './lib/theme';
import { connectStore } from './store/events';
import { useStore } from './store/store';
import './styles/app.css';

// before the first paint, so a dark choice never flashes light
const theme = initTheme(() => useStore.getState().ui.theme);
useStore.setState((s) => ({ ui: { ...s.ui, theme } }));

const root = createRoot(document.getElementById('root')!);
const choice = selectApi();
if (choice.ok) {
  setApi(choice.api);
  connectStore(choice.api);
  // after selectApi: the token has left the fragment by now
  startRouter();
  root.render(<App />);
} else {
  root.render(
    <main className="fatal">
      <h1>Flotilla</h1>
      <p>{choice.reason}</p>
    </main>,
  );
}
