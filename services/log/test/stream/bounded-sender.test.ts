import { describe, expect, it } from 'vitest';
import { BoundedSender, type FrameSink } from '../../src/stream/bounded-sender.js';

/** A sink that holds what is sent until the test flushes it, the way a socket holds what the peer has not read. */
class HeldSink implements FrameSink {
  readonly delivered: string[] = [];
  private readonly held: { data: string; callback: (error?: Error) => void }[] = [];

  get bufferedAmount(): number {
    return this.held.reduce((sum, entry) => sum + Buffer.byteLength(entry.data), 0);
  }

  send(data: string, callback: (error?: Error) => void): void {
    this.held.push({ data, callback });
  }

  /** Hands the oldest held frames to the peer, calling each one's callback as a socket does. */
  flush(count = Number.POSITIVE_INFINITY): void {
    for (let index = 0; index < count && this.held.length > 0; index++) {
      const entry = this.held.shift() as { data: string; callback: (error?: Error) => void };
      this.delivered.push(entry.data);
      entry.callback();
    }
  }
}

const frame = (index: number) => JSON.stringify({ n: index, pad: 'x'.repeat(90) }); // about 100 bytes

describe('BoundedSender', () => {
  it('never holds more than the limit, counts what it drops, and sends the notice once the backlog halves', () => {
    const sink = new HeldSink();
    let droppedTotal = 0;
    const sender = new BoundedSender(sink, 1000, (count) => {
      droppedTotal += count;
    });
    const accepted: number[] = [];
    for (let index = 0; index < 50; index++) {
      if (sender.send(frame(index))) accepted.push(index);
      expect(sink.bufferedAmount).toBeLessThanOrEqual(1000);
    }
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.length + droppedTotal).toBe(50);

    sink.flush(1);
    // Still above half the limit: no notice yet, and further events are still dropped.
    expect(sink.delivered.some((data) => data.includes('"dropped"'))).toBe(false);
    expect(sender.send(frame(50))).toBe(false);
    sink.flush();
    const notice = sink.delivered.find((data) => data.includes('"dropped"'));
    expect(notice).toBe(JSON.stringify({ type: 'dropped', count: droppedTotal }));
    expect(sink.delivered.at(-1)).toBe(notice);

    expect(sender.send(frame(51))).toBe(true);
    sink.flush();
    expect(sink.delivered.at(-1)).toBe(frame(51));
  });

  it('lets a single frame larger than the limit through when nothing is held', () => {
    const sink = new HeldSink();
    const sender = new BoundedSender(sink, 100);
    const big = 'y'.repeat(500);
    expect(sender.send(big)).toBe(true);
    expect(sender.send('small')).toBe(false);
    sink.flush();
    expect(sink.delivered).toEqual([big, JSON.stringify({ type: 'dropped', count: 1 })]);
  });
});
