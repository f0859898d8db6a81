// DEV ONLY entry (dev/mock.html): the real App over the in-memory MockApi.
import { createRoot } from 'react-dom/client';
import { setApi } from '../src/api/current';
import { App } from '../src/app';
import { connectStore } from '../src/store/events';
import '../src/styles/app.css';
import { MockApi } from './mock-api';

const api = new MockApi(new URLSearchParams(location.search).get('scenario') ?? 'demo');
setApi(api);
connectStore(api);
createRoot(document.getElementById('root')!).render(<App />);
