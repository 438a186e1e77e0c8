/** A local webhook receiver that records every JSON body it gets. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Receiver {
  url: string;
  alerts: any[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const alerts: any[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      try {
        alerts.push(JSON.parse(body));
      } catch {
        alerts.push({ unparsable: body });
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections(); // a sender's request still open must not keep the test waiting
    });
  return { url: `http://127.0.0.1:${port}/hook`, alerts, close };
}
