// Tests of the headless WebSocket gate: try one upgrade and report whether it opened and, if it
// was refused, the HTTP status of the refusal (null when the connection failed outright).
import WebSocket from 'ws';

export interface UpgradeOutcome {
  opened: boolean;
  status: number | null;
}

export function attemptUpgrade(url: string, protocols: string[], headers: Record<string, string>): Promise<UpgradeOutcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, { headers });
    ws.on('open', () => {
      ws.close();
      resolve({ opened: true, status: 101 });
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve({ opened: false, status: res.statusCode ?? null });
      ws.terminate();
    });
    ws.on('error', () => resolve({ opened: false, status: null }));
  });
}
