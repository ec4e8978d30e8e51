import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drops every connection and refuses new ones, as a database that went down does. */
  cut(): Promise<void>;
  /** Accepts connections again on the same port, as a database that came back does. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A loopback TCP proxy to `host:port`, to take a database away from a server without touching it. */
export async function tcpProxy(host: string, port: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const make = (): Server =>
    createServer((client) => {
      const upstream = connect(port, host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
  let server = make();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const own = (server.address() as { port: number }).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  return {
    port: own,
    cut: stop,
    restore: async () => {
      if (server.listening) return;
      server = make();
      await new Promise<void>((resolve) => server.listen(own, '127.0.0.1', resolve));
    },
    close: stop,
  };
}
