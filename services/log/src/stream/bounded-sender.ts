/** What the sender needs of a WebSocket; `ws` satisfies it. */
export interface FrameSink {
  /** Bytes accepted by send() but not yet handed to the kernel (ws: socket buffer + frame queue). */
  readonly bufferedAmount: number;
  send(data: string, callback: (error?: Error) => void): void;
}

/**
 * Sends frames to one client without ever holding more than `limitBytes` for it (or one frame,
 * if a single frame is larger). Frames that do not fit are dropped and counted; once the client
 * has drained the backlog to half the limit, it gets `{"type":"dropped","count":n}` in the place
 * of the gap and the stream carries on. The half-way mark keeps a client that hovers at the
 * limit from receiving a notice for every other event.
 */
export class BoundedSender {
  private dropped = 0;
  private overflowing = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly limitBytes: number,
    private readonly onDrop: (count: number) => void = () => {},
  ) {}

  /** Queues the frame, or drops it when the client is too far behind. Returns whether it was queued. */
  send(frame: string): boolean {
    if (this.overflowing && this.sink.bufferedAmount <= this.limitBytes / 2) this.resume();
    const buffered = this.sink.bufferedAmount;
    if (this.overflowing || (buffered > 0 && buffered + Buffer.byteLength(frame) > this.limitBytes)) {
      this.overflowing = true;
      this.dropped++;
      this.onDrop(1);
      return false;
    }
    this.write(frame);
    return true;
  }

  private write(frame: string): void {
    // Each completed write is the moment the backlog shrinks, so that is where a drained client
    // gets its notice even if no further event arrives.
    this.sink.send(frame, (error) => {
      if (!error && this.overflowing && this.sink.bufferedAmount <= this.limitBytes / 2) this.resume();
    });
  }

  private resume(): void {
    this.overflowing = false;
    const count = this.dropped;
    this.dropped = 0;
    this.write(JSON.stringify({ type: 'dropped', count }));
  }
}
