import { ValidationFailed } from '@logserver/shared/errors/catalogue';
import { LIMITS } from '@logserver/shared/schemas/limits';
import { describe, expect, it } from 'vitest';
import { cleanupCutoff } from '../../src/rules/cleanup.js';
import { countThenRecord, EXPORT_CHUNK_CHARS, exportFileName, inChunks } from '../../src/rules/export-format.js';
import { zeroFilledBuckets } from '../../src/rules/stats-buckets.js';

describe('zeroFilledBuckets', () => {
  const result = {
    totals: { INFO: 3 },
    buckets: [
      { start: '2025-06-26T01:00:00.000Z', counts: { INFO: 1 } },
      { start: '2025-06-26T03:00:00.000Z', counts: { INFO: 2 } },
    ],
  };

  it('floors from to the bucket, stops before to, and fills every key', () => {
    const buckets = zeroFilledBuckets(result, {
      interval: 'hour',
      from: '2025-06-26T00:30:00.000Z',
      to: '2025-06-26T03:30:00.000Z',
      keys: ['INFO', 'ERROR'],
    });
    expect(buckets).toEqual([
      { start: '2025-06-26T00:00:00.000Z', counts: { INFO: 0, ERROR: 0 } },
      { start: '2025-06-26T01:00:00.000Z', counts: { INFO: 1, ERROR: 0 } },
      { start: '2025-06-26T02:00:00.000Z', counts: { INFO: 0, ERROR: 0 } },
      { start: '2025-06-26T03:00:00.000Z', counts: { INFO: 2, ERROR: 0 } },
    ]);
  });

  it('spans the buckets with data when from and to are absent, and nothing when there is none', () => {
    expect(zeroFilledBuckets(result, { interval: 'hour', keys: ['INFO'] }).map((bucket) => bucket.start)).toEqual([
      '2025-06-26T01:00:00.000Z',
      '2025-06-26T02:00:00.000Z',
      '2025-06-26T03:00:00.000Z',
    ]);
    expect(zeroFilledBuckets({ totals: {}, buckets: [] }, { interval: 'day', keys: ['INFO'] })).toEqual([]);
  });

  it('allows exactly the limit and refuses one bucket more', () => {
    const from = '2025-01-01T00:00:00.000Z';
    const at = (hours: number) => new Date(Date.parse(from) + hours * 3_600_000).toISOString();
    expect(zeroFilledBuckets(result, { interval: 'hour', from, to: at(LIMITS.statsBuckets), keys: [] })).toHaveLength(LIMITS.statsBuckets);
    expect(() => zeroFilledBuckets(result, { interval: 'hour', from, to: at(LIMITS.statsBuckets + 1), keys: [] })).toThrow(
      ValidationFailed,
    );
  });
});

describe('cleanupCutoff', () => {
  const now = new Date('2025-06-26T12:00:00.000Z');
  it('is before as given, now minus whole days, or null for all=true', () => {
    expect(cleanupCutoff({ before: '2025-01-01T00:00:00.000Z' }, now)).toBe('2025-01-01T00:00:00.000Z');
    expect(cleanupCutoff({ older_than_days: 30 }, now)).toBe('2025-05-27T12:00:00.000Z');
    expect(cleanupCutoff({ all: 'true' }, now)).toBeNull();
  });
});

describe('export helpers', () => {
  it('names the file after the tenant, the UTC time and the format', () => {
    expect(exportFileName('acme', 'csv', new Date('2025-06-26T01:23:45.678Z'))).toBe('logs-acme-20250626T012345Z.csv');
  });

  it('records the count once, also when the reader stops early', async () => {
    async function* numbers() {
      yield* [1, 2, 3, 4];
    }
    const records: [number, boolean][] = [];
    const record = async (count: number, completed: boolean) => {
      records.push([count, completed]);
    };
    for await (const _ of countThenRecord(numbers(), record));
    for await (const value of countThenRecord(numbers(), record)) if (value === 2) break;
    expect(records).toEqual([
      [4, true],
      [2, false],
    ]);
  });

  it('counts the events of pages, and joins the pages into chunks of at least EXPORT_CHUNK_CHARS with the same text', async () => {
    const line = `${'x'.repeat(999)}\n`;
    async function* pages() {
      yield Array.from({ length: 30 }, () => line);
      yield [];
      yield Array.from({ length: 5 }, () => line);
    }
    const records: [number, boolean][] = [];
    const chunks: string[] = [];
    for await (const chunk of inChunks(
      countThenRecord(
        pages(),
        async (count, completed) => void records.push([count, completed]),
        (page) => page.length,
      ),
    ))
      chunks.push(chunk);
    expect(records).toEqual([[35, true]]);
    expect(chunks.join('')).toBe(line.repeat(35));
    expect(chunks.slice(0, -1).every((chunk) => chunk.length >= EXPORT_CHUNK_CHARS)).toBe(true);
    expect(chunks.length).toBe(3);
  });
});
