/**
 * A TCP proxy that forwards answers slowly (a chunk at a time, with a pause between): a slow S3,
 * so a test can catch an import while it runs.
 */
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

export interface SlowProxy {
  url: string;
  close(): Promise<void>;
}

/**
 * `cutFirstAfter`: the first answer that carries more than this many bytes is cut there (its
 * connection destroyed), as a reset connection would; later connections are whole.
 */
export async function startSlowProxy(target: string, bytesPerTick = 16 * 1024, tickMs = 20, cutFirstAfter?: number): Promise<SlowProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let cut = cutFirstAfter;
  const server = createServer((client) => {
    let sent = 0;
    const upstream = connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.on('data', (data: Buffer) => {
      upstream.pause();
      let offset = 0;
      const tick = (): void => {
        if (client.destroyed) return;
        const piece = data.subarray(offset, offset + bytesPerTick);
        if (cut !== undefined && sent + piece.length > cut) {
          client.write(piece.subarray(0, cut - sent));
          cut = undefined;
          client.destroy();
          upstream.destroy();
          return;
        }
        sent += piece.length;
        client.write(piece);
        offset += bytesPerTick;
        if (offset < data.length) setTimeout(tick, tickMs);
        else setTimeout(() => upstream.resume(), tickMs);
      };
      tick();
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
