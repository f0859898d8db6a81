// Renderer entry: choose the transport (preload bridge or WebSocket), wire the store's one
// event subscription, render.
import { createRoot } from 'react-dom/client';
import { setApi } from './api/current';
import { selectApi } from './api/select-api';
import { App } from './app';
import { connectStore } from './store/events';
import './styles/app.css';

const root = createRoot(document.getElementById('root')!);
const choice = selectApi();
if (choice.ok) {
  setApi(choice.api);
  connectStore(choice.api);
  root.render(<App />);
} else {
  root.render(
    <main className="fatal">
      <h1>Flotilla</h1>
      <p>{choice.reason}</p>
    </main>,
  );
}
