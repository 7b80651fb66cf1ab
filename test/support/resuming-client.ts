import type { Socket } from 'node:net';
import WebSocket from 'ws';

/** How the client leaves: a clean close, a TCP cut in the middle of a frame, or a cut while the server replays. */
export type Disconnect = 'close' | 'mid-frame' | 'during-replay';

export interface ResumingClientOptions {
  /** The URL for the next connection (a fresh token, the next replica); `after` is the cursor to resume from. */
  url(after: string | undefined, attempt: number): Promise<string>;
  /** After how many received events to disconnect, and how; each entry is used once, in order. */
  plan?: { at: number; how: Disconnect }[];
  /** Called with each connection's socket once open, e.g. to stop reading for a while. */
  onOpen?(ws: WebSocket, attempt: number): void;
}

interface ReceiverInternals {
  _bufferedBytes: number;
}

/**
 * A stream client that does what a careful user's does: it keeps the cursor of the last complete
 * event (or of the last `live` frame, the first of a stream opened without one), and whenever the connection ends (for whatever reason) it reconnects with `after=` that
 * cursor, or with the cursor a closing frame named. It records what it received, in order.
 */
export class ResumingClient {
  readonly ids: string[] = [];
  readonly notices: { type: string; [key: string]: unknown }[] = [];
  readonly closes: { code: number; reason: string }[] = [];
  /** Disconnects that really cut a frame in half (the receiver held part of one when the socket died). */
  midFrameCuts = 0;
  /** Disconnects made after the server had sent part of a replay and before it said `live`. */
  replayCuts = 0;
  /** Entries of the plan carried out. */
  disconnects = 0;
  connections = 0;
  /** A during-replay cut whose moment came while live: the client closed to cause a replay, and cuts into that one. */
  private cutNextReplay = false;
  /** Mid-frame cuts waiting, across connections if need be, for a chunk that ends inside a frame. */
  private armedCuts = 0;
  private cursor: string | undefined;
  private ws: WebSocket | null = null;
  private stopped = false;
  private replaying = false;
  private readonly plan: { at: number; how: Disconnect }[];
  private running: Promise<void> | null = null;

  constructor(private readonly options: ResumingClientOptions) {
    this.plan = [...(options.plan ?? [])].sort((a, b) => a.at - b.at);
  }

  /** Starts connecting and keeps reconnecting until stop(). Resolves once the first connection is open. */
  async start(): Promise<void> {
    let opened!: () => void;
    const first = new Promise<void>((resolve) => {
      opened = resolve;
    });
    this.running = this.loop(opened);
    await first;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ws?.terminate();
    await this.running;
  }

  private async loop(opened: () => void): Promise<void> {
    while (!this.stopped) {
      const attempt = this.connections++;
      const url = await this.options.url(this.cursor, attempt);
      await this.connectOnce(url, attempt, opened).catch(() => new Promise((resolve) => setTimeout(resolve, 50)));
    }
  }

  private connectOnce(url: string, attempt: number, opened: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      this.ws = ws;
      this.replaying = url.includes('after=');
      ws.on('open', () => {
        opened();
        const socket = (ws as unknown as { _socket: Socket })._socket;
        // Runs after ws parsed the chunk: bytes left in its receiver are part of an unfinished frame.
        socket.on('data', () => {
          // Not on a connection already closing (a planned clean close): the cut waits for the next one.
          if (this.armedCuts === 0 || ws.readyState !== WebSocket.OPEN) return;
          const receiver = (ws as unknown as { _receiver: ReceiverInternals })._receiver;
          if (receiver._bufferedBytes > 0) {
            this.midFrameCuts++;
            this.disconnects++;
            this.armedCuts--;
            socket.destroy();
          }
        });
        this.options.onOpen?.(ws, attempt);
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const text = data.toString();
        if (text === 'pong') return;
        const frame = JSON.parse(text);
        if (frame.type !== undefined) {
          this.notices.push(frame);
          // The replay was over before an event of it arrived: close again, to be replayed again.
          if (frame.type === 'live' && this.cutNextReplay && this.replaying) ws.close();
          if (frame.type === 'live') this.replaying = false;
          if (frame.type === 'catching_up') this.replaying = true;
          if (frame.type === 'closing' && typeof frame.after === 'string') this.cursor = frame.after;
          // The head at connect, or where a replay or catch-up ended: a cut before the next event resumes here.
          if (frame.type === 'live' && typeof frame.cursor === 'string') this.cursor = frame.cursor;
          return;
        }
        this.ids.push(frame.id);
        this.cursor = frame.cursor;
        if (this.cutNextReplay && this.replaying) {
          this.cutNextReplay = false;
          this.replayCuts++;
          ws.terminate();
          return;
        }
        const next = this.plan[0];
        // Events still arriving on a connection this client is closing do not carry out the next entry: it is for the next connection.
        if (next && this.ids.length >= next.at && ws.readyState === WebSocket.OPEN) {
          this.plan.shift();
          if (next.how !== 'mid-frame') this.disconnects++;
          if (next.how === 'close') ws.close();
          else if (next.how === 'mid-frame') this.armedCuts++;
          else if (this.replaying) {
            this.replayCuts++;
            ws.terminate();
          } else {
            this.cutNextReplay = true;
            ws.close();
          }
        }
      });
      ws.on('close', (code, reason) => {
        this.closes.push({ code, reason: reason.toString() });
        resolve();
      });
      ws.on('error', (error) => {
        if (ws.readyState !== WebSocket.OPEN) reject(error);
      });
    });
  }
}
