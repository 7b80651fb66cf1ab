import { css } from 'lit';

/**
 * One set of styles for every view. Colours meet WCAG AA contrast (4.5:1 for text) on both the
 * light and the dark scheme; focus is always visible; layouts wrap down to a phone's width.
 */
export const shared = css`
  :host {
    --bg: #ffffff;
    --fg: #1b1f24;
    --muted: #4e5661;
    --line: #c9d1d9;
    --panel: #f4f6f8;
    --accent: #0b5cad;
    --accent-fg: #ffffff;
    --info: #1f6feb;
    --warning: #9a6700;
    --error: #cf222e;
    --critical: #82071e;
    --ok: #116329;
    color: var(--fg);
    background: var(--bg);
    font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif;
    display: block;
  }
  @media (prefers-color-scheme: dark) {
    :host {
      --bg: #0d1117;
      --fg: #e6edf3;
      --muted: #9da7b3;
      --line: #3d444d;
      --panel: #161b22;
      --accent: #4493f8;
      --accent-fg: #0d1117;
      --info: #58a6ff;
      --warning: #d29922;
      --error: #ff7b72;
      --critical: #ffa198;
      --ok: #3fb950;
    }
  }
  * { box-sizing: border-box; }
  button, input, select, textarea { font: inherit; color: inherit; }
  button {
    border: 1px solid var(--line);
    background: var(--panel);
    border-radius: 6px;
    padding: 0.3rem 0.7rem;
    cursor: pointer;
    min-height: 2.1rem;
  }
  button.primary { background: var(--accent); color: var(--accent-fg); border-color: var(--accent); }
  button:disabled { opacity: 0.55; cursor: not-allowed; }
  input, select, textarea {
    border: 1px solid var(--line);
    background: var(--bg);
    border-radius: 6px;
    padding: 0.3rem 0.5rem;
    min-height: 2.1rem;
    max-width: 100%;
  }
  :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
  label { display: flex; flex-direction: column; gap: 0.15rem; font-size: 0.85rem; color: var(--muted); }
  label > input, label > select { color: var(--fg); font-size: 0.95rem; }
  .row { display: flex; flex-wrap: wrap; gap: 0.6rem; align-items: flex-end; }
  .muted { color: var(--muted); }
  .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 0.8rem; }
  .notice { border-left: 4px solid var(--warning); background: var(--panel); padding: 0.5rem 0.8rem; margin: 0.5rem 0; }
  .notice.error { border-color: var(--error); }
  .notice.ok { border-color: var(--ok); }
  .sev { font-weight: 600; font-size: 0.8rem; padding: 0.05rem 0.4rem; border-radius: 4px; border: 1px solid currentColor; }
  .sev-INFO { color: var(--info); }
  .sev-WARNING { color: var(--warning); }
  .sev-ERROR { color: var(--error); }
  .sev-CRITICAL { color: var(--critical); }
  .table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--line); white-space: nowrap; vertical-align: top; }
  th { background: var(--panel); font-weight: 600; position: sticky; top: 0; }
  tbody tr[tabindex] { cursor: pointer; }
  tbody tr[tabindex]:hover, tbody tr[aria-selected='true'] { background: var(--panel); }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 0.6rem; overflow: auto; max-height: 24rem; font-size: 0.85rem; }
  code { font-size: 0.85rem; }
  h2 { font-size: 1.15rem; margin: 0.4rem 0 0.6rem; }
  h3 { font-size: 1rem; margin: 0.8rem 0 0.4rem; }
  .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  @media (max-width: 640px) {
    :host { font-size: 14px; }
    .row > label { flex: 1 1 45%; }
  }
`;
