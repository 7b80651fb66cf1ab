import { makeEvent } from '@logserver/testing/events';
import { describe, expect, it } from 'vitest';
import { groupBatches, packMessages, parseMessageBody } from '../../src/sqs/packing.js';

describe('packMessages', () => {
  it('fills each message up to the limit, keeps order and loses nothing', () => {
    const events = Array.from({ length: 300 }, () => JSON.stringify(makeEvent('tenant-a')));
    const messages = packMessages(events, 16 * 1024);
    expect(messages.length).toBeGreaterThan(1);
    for (const message of messages) {
      expect(Buffer.byteLength(message.body)).toBe(message.bytes);
      expect(message.bytes).toBeLessThanOrEqual(16 * 1024);
    }
    expect(messages.flatMap((message) => message.indexes)).toEqual(events.map((_, index) => index));
    expect(messages.flatMap((message) => JSON.parse(message.body))).toEqual(events.map((event) => JSON.parse(event)));
  });

  it('gives an event larger than the limit a message of its own', () => {
    const messages = packMessages(['"small"', `"${'x'.repeat(100)}"`, '"small"'], 50);
    expect(messages.map((message) => message.indexes)).toEqual([[0], [1], [2]]);
  });
});

describe('groupBatches', () => {
  it('puts at most ten messages and at most the byte limit in one batch', () => {
    const messages = Array.from({ length: 25 }, () => ({ bytes: 100 }));
    expect(groupBatches(messages, 10, 10_000).map((batch) => batch.length)).toEqual([10, 10, 5]);
    expect(groupBatches(messages, 10, 450).map((batch) => batch.length)).toEqual([4, 4, 4, 4, 4, 4, 1]);
  });
});

describe('parseMessageBody', () => {
  it('reads back what was packed', () => {
    const event = makeEvent('tenant-a');
    expect(parseMessageBody(JSON.stringify([event]))).toEqual({ ok: true, events: [event] });
  });

  it('says why a body cannot be stored', () => {
    expect(parseMessageBody('{')).toMatchObject({ ok: false, reason: expect.stringMatching(/^not JSON/) });
    expect(parseMessageBody('[]')).toMatchObject({ ok: false, reason: expect.stringMatching(/^not a list of log events/) });
    expect(parseMessageBody('[{"id":1}]')).toMatchObject({ ok: false, reason: expect.stringContaining('0.id') });
  });
});
