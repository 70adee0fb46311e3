import net from 'node:net';

/** A port the OS says is free now, for a server a test or benchmark starts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A free port below 32768. The Temporal server records each service's membership port in Postgres as a
 * smallint (cluster_membership.rpc_port): from an ephemeral port (32768 and up) it stops at start with
 * `value "35013" is out of range for type smallint`. Tried at random from 10000 to 32767.
 */
export async function freeSmallintPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (32_768 - 10_000));
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port found from 10000 to 32767');
}

/** True when nothing listens on the port on 127.0.0.1 now (npm run dev's fixed ports). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
