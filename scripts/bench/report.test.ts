import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeTarget, evaluate, formatNumber, ratioOf, renderTable, statedTargets, tally } from './report.js';
import { sizesFor } from './scale.js';

describe('benchmark targets', () => {
  it('judges a ratio target against value / baseline', () => {
    const target = { of: 'ratio', op: '>=', limit: 0.6 } as const;
    const met = evaluate({ scenario: '1', figure: 'requests/s', value: 700, baseline: 1000, target });
    expect(met).toMatchObject({ ratio: 0.7, pass: true, target: '≥ 0.6 × baseline' });
    expect(evaluate({ scenario: '1', figure: 'requests/s', value: 500, baseline: 1000, target }).pass).toBe(false);
  });

  it('judges a value target on the figure alone, with strict and inclusive limits', () => {
    const atMost = { of: 'value', op: '<=', limit: 50, unit: 'ms' } as const;
    expect(evaluate({ scenario: '1', figure: 'p99', value: 50, target: atMost }).pass).toBe(true);
    expect(evaluate({ scenario: '1', figure: 'p99', value: 51, target: atMost }).pass).toBe(false);
    const below = { of: 'value', op: '<', limit: 100 } as const;
    expect(evaluate({ scenario: '2', figure: 'p99', value: 100, target: below }).pass).toBe(false);
    expect(evaluate({ scenario: '2', figure: 'p99', value: 99, target: below }).pass).toBe(true);
    expect(describeTarget(atMost)).toBe('≤ 50 ms');
  });

  it('leaves pass empty when nothing was measured or there is no target', () => {
    expect(
      evaluate({ scenario: '6', figure: 'events/s', value: null, note: 'no route', target: { of: 'value', op: '>=', limit: 1 } }).pass,
    ).toBeNull();
    expect(evaluate({ scenario: '4', figure: 'requests/s', value: 10, baseline: 0 })).toMatchObject({
      ratio: null,
      pass: null,
      target: null,
    });
    expect(ratioOf(3, 0)).toBeNull();
    expect(
      evaluate({ scenario: '4', figure: 'ratio', value: 3, baseline: 0, target: { of: 'ratio', op: '<=', limit: 2 } }).pass,
    ).toBeNull();
  });

  it('counts met, missed and unmeasured stated targets, and the unstated ones apart', () => {
    const stated = new Set(['a|x|≤ 2', 'a|y|≤ 2', 'a|z|≤ 2']);
    const results = [
      evaluate({ scenario: 'a', figure: 'x', value: 1, target: { of: 'value', op: '<=', limit: 2 } }, stated),
      evaluate({ scenario: 'a', figure: 'y', value: 3, target: { of: 'value', op: '<=', limit: 2 } }, stated),
      evaluate({ scenario: 'a', figure: 'z', value: null, note: 'skipped', target: { of: 'value', op: '<=', limit: 2 } }, stated),
      evaluate({ scenario: 'a', figure: 'v', value: 3, target: { of: 'value', op: '<=', limit: 2 } }, stated),
      evaluate({ scenario: 'a', figure: 'w', value: 1 }, stated),
    ];
    expect(tally(results)).toEqual({ passed: 1, failed: 1, unchecked: 1, unstated: 1 });
  });
});

describe('stated targets', () => {
  const doc = [
    '# Benchmarks',
    '## Targets',
    '| scenario | figure | target | stated by |',
    '| --- | --- | --- | --- |',
    '| 1 | requests/s | ≥ 0.6 × baseline | #15 |',
    '| 2g | p99 latency (ms) | ≤ 500 ms | #15 |',
    '| 8 | SQS requests per 1000 events, all (send, receive, delete) | ≤ 20 | #15 |',
    '| 4 | a \\| b | `≤ 2` | x |',
    '## Latest run',
    '| 6 | events/s | ≥ 100000 | not under the Targets heading |',
  ].join('\n');

  it('reads the table under the Targets heading and nothing after it', () => {
    expect([...statedTargets(doc)]).toEqual([
      '1|requests/s|≥ 0.6 × baseline',
      '2g|p99 latency (ms)|≤ 500 ms',
      '8|SQS requests per 1000 events, all (send, receive, delete)|≤ 20',
      '4|a | b|≤ 2',
    ]);
  });

  it('shows FAIL only for a stated target; an unstated miss says so', () => {
    const stated = statedTargets(doc);
    const slow = { scenario: '1 single POST', figure: 'requests/s', value: 100, baseline: 1000 };
    const failed = evaluate({ ...slow, target: { of: 'ratio', op: '>=', limit: 0.6 } }, stated);
    const unstated = evaluate({ ...slow, target: { of: 'ratio', op: '>=', limit: 0.9 } }, stated);
    expect(failed).toMatchObject({ pass: false, stated: true });
    expect(unstated).toMatchObject({ pass: false, stated: false });
    const rows = renderTable([failed, unstated]).split('\n');
    expect(rows[2]).toMatch(/\| \*\*FAIL\*\* \|$/);
    expect(rows[3]).toMatch(/\| missed \(not a stated target\) \|$/);
    expect(renderTable([failed, unstated])).not.toMatch(/FAIL[^\n]*\n[^\n]*FAIL/);
  });

  it('finds every target of docs/benchmarks.md in its own Targets table', () => {
    const stated = statedTargets(readFileSync(new URL('../../docs/benchmarks.md', import.meta.url), 'utf8'));
    expect(stated.has('1|requests/s|≥ 0.6 × baseline')).toBe(true);
    expect(stated.has('6|events/s|≥ 0.8 × baseline')).toBe(true);
    expect(stated.size).toBeGreaterThan(15);
  });
});

describe('benchmark table', () => {
  it('renders one markdown row per figure, with skipped rows saying why', () => {
    const table = renderTable([
      evaluate(
        {
          scenario: '1 single POST',
          figure: 'requests/s',
          value: 12_345.6,
          baseline: 20_000,
          target: { of: 'ratio', op: '>=', limit: 0.6 },
          relativeTo: 'the bare Fastify echo',
        },
        new Set(['1|requests/s|≥ 0.6 × baseline']),
      ),
      evaluate({ scenario: '6 export', figure: 'events/s', value: null, note: 'no export route' }),
      evaluate({ scenario: 'a|b', figure: 'p99', value: 0.123456, relativeTo: 'no baseline, so not printed' }),
    ]);
    expect(table.split('\n')).toEqual([
      '| scenario | figure | value | baseline | ratio | ratio is relative to | target | pass |',
      '|---|---|---|---|---|---|---|---|',
      '| 1 single POST | requests/s | 12,346 | 20,000 | 0.617 | the bare Fastify echo | ≥ 0.6 × baseline | pass |',
      '| 6 export | events/s | skipped: no export route | – | – |  |  |  |',
      '| a\\|b | p99 | 0.123 | – | – |  |  |  |',
    ]);
  });

  it('formats numbers for reading', () => {
    expect(formatNumber(null)).toBe('–');
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(42)).toBe('42');
    expect(formatNumber(1.23456)).toBe('1.23');
    expect(formatNumber(1_000_000)).toBe('1,000,000');
  });
});

describe('benchmark scale', () => {
  it('runs the issue sizes by default and smaller ones for quick', () => {
    expect(sizesFor(undefined)).toMatchObject({ scale: 'full', bigTenantEvents: 1_000_000, subscribers: 1000, pythonRequests: 10_000 });
    expect(sizesFor('quick').bigTenantEvents).toBeLessThan(sizesFor('full').bigTenantEvents);
    expect(() => sizesFor('huge')).toThrow(/BENCH_SCALE=quick/);
  });
});
