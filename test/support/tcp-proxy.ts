import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of a server, for the network failures a client meets: `cut()`
 * destroys every connection at once (wherever the bytes are, often inside a WebSocket frame),
 * `refuse()` makes new connections fail until `accept()`, and `target` may be moved to another
 * server (a restarted one on another port). It keeps the first line each connection sent (the
 * HTTP request line, e.g. `GET /api/v1/logs/stream?...&after=... HTTP/1.1`).
 */
export class TcpProxy {
  readonly requestLines: string[] = [];
  private readonly open = new Set<Socket>();
  private refusing = false;
  private constructor(
    private readonly server: Server,
    public target: number,
  ) {}

  static async start(target: number): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, target);
    server.on('connection', (client) => proxy.relay(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Destroys every connection through the proxy now, with no close handshake. */
  cut(): number {
    const count = this.open.size;
    for (const socket of this.open) socket.destroy();
    this.open.clear();
    return count;
  }

  refuse(): void {
    this.refusing = true;
  }

  accept(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private relay(client: Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const server = connect(this.target, '127.0.0.1');
    this.open.add(client);
    this.open.add(server);
    let firstLine = '';
    const sniff = (chunk: Buffer) => {
      firstLine += chunk.toString('latin1');
      const end = firstLine.indexOf('\r\n');
      if (end === -1 && firstLine.length < 8192) return;
      this.requestLines.push(end === -1 ? firstLine : firstLine.slice(0, end));
      client.off('data', sniff);
    };
    client.on('data', sniff);
    client.pipe(server);
    server.pipe(client);
    const finish = () => {
      client.destroy();
      server.destroy();
      this.open.delete(client);
      this.open.delete(server);
    };
    client.on('error', finish);
    server.on('error', finish);
    client.on('close', finish);
    server.on('close', finish);
  }
}
