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
  /** What the baseline is, printed beside the ratio; the scenario's baseline (BASELINES in run.ts) when absent. */
  relativeTo?: string;
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
  /** Whether docs/benchmarks.md states the target (its "Targets" table); only a stated target can FAIL. */
  stated: boolean;
  /** What the ratio is value / baseline of; null without a baseline. */
  relativeTo: string | null;
  note?: string;
}

/** Targets the documentation states, as `scenario number|figure|target` (see statedTargets). */
export type StatedTargets = ReadonlySet<string>;

/** "2g the Python load test" → "2g": a scenario's number, as the docs' Targets table names it. */
export const scenarioNumber = (scenario: string): string => scenario.split(' ')[0] ?? scenario;

const statedKey = (scenario: string, figure: string, target: string): string => `${scenarioNumber(scenario)}|${figure}|${target}`;

/**
 * The targets a markdown document states: the rows of the table under its "## Targets" heading,
 * `| scenario | figure | target | stated by |`, the target written as the report writes it
 * (describeTarget). A figure whose target is not there is judged but never shown as FAIL.
 */
export function statedTargets(markdown: string): StatedTargets {
  const section = markdown.split(/^## Targets\s*$/m)[1]?.split(/^## /m)[0] ?? '';
  const keys = new Set<string>();
  for (const line of section.split('\n')) {
    const cells = line
      .split(/(?<!\\)\|/)
      .slice(1, -1)
      .map((cell) => cell.trim().replaceAll('\\|', '|').replaceAll('`', ''));
    if (cells.length < 3 || cells[0] === 'scenario' || /^-+$/.test(cells[0] ?? '')) continue;
    keys.add(statedKey(cells[0] as string, cells[1] as string, cells[2] as string));
  }
  return keys;
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

export function evaluate(figure: Figure, stated: StatedTargets = new Set()): Result {
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
    stated: figure.target !== undefined && stated.has(statedKey(figure.scenario, figure.figure, describeTarget(figure.target))),
    relativeTo: baseline === null ? null : (figure.relativeTo ?? null),
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

/** FAIL only for a target the docs state; an unstated one that is missed says so, without failing. */
const passText = (row: Result): string => {
  if (row.pass === null) return '';
  if (row.pass) return row.stated ? 'pass' : 'met (not a stated target)';
  return row.stated ? '**FAIL**' : 'missed (not a stated target)';
};

const cell = (text: string): string => text.replaceAll('|', '\\|');

export function renderTable(results: readonly Result[]): string {
  const header = ['scenario', 'figure', 'value', 'baseline', 'ratio', 'ratio is relative to', 'target', 'pass'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of results) {
    const value = row.value === null && row.note ? `skipped: ${row.note}` : formatNumber(row.value);
    const cells = [
      row.scenario,
      row.figure,
      value,
      formatNumber(row.baseline),
      formatNumber(row.ratio),
      row.relativeTo ?? '',
      row.target ?? '',
      passText(row),
    ];
    lines.push(`| ${cells.map(cell).join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Stated targets met, missed and not measured; `unstated` counts the figures judged against a target the docs do not state. */
export function tally(results: readonly Result[]): { passed: number; failed: number; unchecked: number; unstated: number } {
  let passed = 0;
  let failed = 0;
  let unchecked = 0;
  let unstated = 0;
  for (const row of results) {
    if (row.target === null) continue;
    if (!row.stated) unstated++;
    else if (row.pass === true) passed++;
    else if (row.pass === false) failed++;
    else unchecked++;
  }
  return { passed, failed, unchecked, unstated };
}
