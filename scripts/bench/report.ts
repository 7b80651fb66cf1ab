/**
 * The benchmark's pure part: how a measured figure is judged against its target and how the
 * results are printed. No I/O here, so a unit test can exercise it in every CI run.
 */

/** `ratio` targets compare value / baseline; `value` targets compare the figure itself. */
export interface Target {
  of: 'value' | 'ratio';
  op: '>=' | '<=' | '<';
  limit: number;
  /** Unit shown after a value limit, e.g. "ms". */
  unit?: string;
}

export interface Figure {
  scenario: string;
  figure: string;
  /** null when the scenario could not run; `note` then says why. */
  value: number | null;
  baseline?: number | null;
  target?: Target;
  note?: string;
}

/** One row of bench-results.json. */
export interface Result {
  scenario: string;
  figure: string;
  value: number | null;
  baseline: number | null;
  ratio: number | null;
  target: string | null;
  /** null when there is no target or nothing was measured. */
  pass: boolean | null;
  note?: string;
}

const SYMBOL: Record<Target['op'], string> = { '>=': '≥', '<=': '≤', '<': '<' };

export function describeTarget(target: Target): string {
  const limit = `${target.limit}${target.unit ? ` ${target.unit}` : ''}`;
  return target.of === 'ratio' ? `${SYMBOL[target.op]} ${limit} × baseline` : `${SYMBOL[target.op]} ${limit}`;
}

/** value / baseline, or null when either is missing or the baseline is zero. */
export function ratioOf(value: number | null, baseline: number | null): number | null {
  if (value === null || baseline === null || baseline === 0) return null;
  return value / baseline;
}

function meets(measured: number, target: Target): boolean {
  if (target.op === '>=') return measured >= target.limit;
  if (target.op === '<=') return measured <= target.limit;
  return measured < target.limit;
}

export function evaluate(figure: Figure): Result {
  const baseline = figure.baseline ?? null;
  const ratio = ratioOf(figure.value, baseline);
  let pass: boolean | null = null;
  if (figure.target) {
    const measured = figure.target.of === 'ratio' ? ratio : figure.value;
    pass = measured === null ? null : meets(measured, figure.target);
  }
  const result: Result = {
    scenario: figure.scenario,
    figure: figure.figure,
    value: figure.value,
    baseline,
    ratio,
    target: figure.target ? describeTarget(figure.target) : null,
    pass,
  };
  if (figure.note !== undefined) result.note = figure.note;
  return result;
}

/** Three significant digits for small numbers, whole numbers with thousands separators for large ones. */
export function formatNumber(value: number | null): string {
  if (value === null) return '–';
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1000) return Math.round(value).toLocaleString('en-US');
  if (magnitude === 0 || Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(3)));
}

const PASS_TEXT = (pass: boolean | null): string => (pass === null ? '' : pass ? 'pass' : '**FAIL**');

const cell = (text: string): string => text.replaceAll('|', '\\|');

export function renderTable(results: readonly Result[]): string {
  const header = ['scenario', 'figure', 'value', 'baseline', 'ratio', 'target', 'pass'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of results) {
    const value = row.value === null && row.note ? `skipped: ${row.note}` : formatNumber(row.value);
    const cells = [
      row.scenario,
      row.figure,
      value,
      formatNumber(row.baseline),
      formatNumber(row.ratio),
      row.target ?? '',
      PASS_TEXT(row.pass),
    ];
    lines.push(`| ${cells.map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}

export function tally(results: readonly Result[]): { passed: number; failed: number; unchecked: number } {
  let passed = 0;
  let failed = 0;
  let unchecked = 0;
  for (const row of results) {
    if (row.target === null) continue;
    if (row.pass === true) passed++;
    else if (row.pass === false) failed++;
    else unchecked++;
  }
  return { passed, failed, unchecked };
}
