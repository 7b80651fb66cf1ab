import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { atExpiry, keepAlive, type PingablePeer } from '../../src/stream/timers.js';

describe('atExpiry', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.UTC(2026, 0, 1) });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires when exp passes, not before', () => {
    let expired = 0;
    atExpiry(Date.now() / 1000 + 2, () => expired++);
    vi.advanceTimersByTime(1_999);
    expect(expired).toBe(0);
    vi.advanceTimersByTime(1);
    expect(expired).toBe(1);
  });

  it('waits out an exp beyond the longest Node timeout instead of firing at once', () => {
    let expired = 0;
    const fortyDays = 40 * 86_400;
    atExpiry(Date.now() / 1000 + fortyDays, () => expired++);
    vi.advanceTimersByTime(30 * 86_400_000);
    expect(expired).toBe(0);
    vi.advanceTimersByTime(10 * 86_400_000);
    expect(expired).toBe(1);
  });

  it('never fires for a token without exp, nor once cancelled', () => {
    let expired = 0;
    atExpiry(undefined, () => expired++);
    const cancel = atExpiry(Date.now() / 1000 + 1, () => expired++);
    cancel();
    vi.advanceTimersByTime(10_000);
    expect(expired).toBe(0);
  });
});

describe('keepAlive', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  class Peer implements PingablePeer {
    pings = 0;
    terminated = false;
    private onPong: () => void = () => {};
    ping(): void {
      this.pings++;
    }
    terminate(): void {
      this.terminated = true;
    }
    on(_event: 'pong', listener: () => void): void {
      this.onPong = listener;
    }
    pong(): void {
      this.onPong();
    }
  }

  it('keeps a peer that answers and terminates one that misses a ping', () => {
    const peer = new Peer();
    let dead = 0;
    keepAlive(peer, 100, () => dead++);
    for (let round = 0; round < 5; round++) {
      vi.advanceTimersByTime(100);
      peer.pong();
    }
    expect(peer.pings).toBe(5);
    expect(peer.terminated).toBe(false);
    vi.advanceTimersByTime(100); // pinged, no answer
    vi.advanceTimersByTime(100);
    expect(peer.terminated).toBe(true);
    expect(dead).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(peer.pings).toBe(6);
  });
});
