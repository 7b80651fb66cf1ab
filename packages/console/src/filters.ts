import type { Params } from './api.js';

/** The list API's filters (README "Filters"), as the console holds them; the same set drives every view. */
export interface Filters {
  action: string;
  resource_type: string;
  resource_id: string;
  user_id: string;
  ip_address: string;
  user_agent: string;
  search: string;
  /** Subset of SEVERITIES; empty means every severity. */
  severity: string[];
  /** A preset name ('15m', '1h', …), 'custom' (from/to as typed), 'day' (timestamp=), or '' for all time. */
  range: string;
  from: string;
  to: string;
  timestamp: string;
}

export const SEVERITIES = ['INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;

export const TEXT_FILTERS = [
  { key: 'action', label: 'Action' },
  { key: 'resource_type', label: 'Resource type' },
  { key: 'resource_id', label: 'Resource id' },
  { key: 'user_id', label: 'User' },
  { key: 'ip_address', label: 'IP address' },
  { key: 'user_agent', label: 'User agent contains' },
] as const satisfies readonly { key: keyof Filters; label: string }[];

/** Time presets: the window ends now and starts this long ago. */
export const PRESETS: readonly { key: string; label: string; ms: number }[] = [
  { key: '15m', label: 'Last 15 min', ms: 15 * 60_000 },
  { key: '1h', label: 'Last hour', ms: 3_600_000 },
  { key: '24h', label: 'Last 24 h', ms: 24 * 3_600_000 },
  { key: '7d', label: 'Last 7 days', ms: 7 * 24 * 3_600_000 },
  { key: '30d', label: 'Last 30 days', ms: 30 * 24 * 3_600_000 },
];

export const emptyFilters = (): Filters => ({
  action: '',
  resource_type: '',
  resource_id: '',
  user_id: '',
  ip_address: '',
  user_agent: '',
  search: '',
  severity: [],
  range: '',
  from: '',
  to: '',
  timestamp: '',
});

/**
 * The API's query parameters for these filters. A preset is resolved against `now` each time it is
 * asked for, so a refresh of "Last hour" means the last hour then.
 */
export function toApiParams(filters: Filters, now = Date.now()): Params {
  const params: Params = {};
  for (const { key } of TEXT_FILTERS) params[key] = filters[key].trim() || undefined;
  params.search = filters.search || undefined;
  if (filters.severity.length > 0 && filters.severity.length < SEVERITIES.length) params.severity = filters.severity.join(',');
  const preset = PRESETS.find((p) => p.key === filters.range);
  if (preset) params.from = new Date(now - preset.ms).toISOString();
  if (filters.range === 'custom') {
    params.from = localToIso(filters.from);
    params.to = localToIso(filters.to);
  }
  if (filters.range === 'day') params.timestamp = filters.timestamp || undefined;
  return params;
}

/** A `datetime-local` value is the user's local time; the API wants an instant with a zone. */
function localToIso(value: string): string | undefined {
  if (!value) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** The filters as they go into the page's address (never the token): short keys only when set. */
export function toUrlParams(filters: Filters): URLSearchParams {
  const url = new URLSearchParams();
  for (const { key } of TEXT_FILTERS) if (filters[key]) url.set(key, filters[key]);
  if (filters.search) url.set('search', filters.search);
  if (filters.severity.length) url.set('severity', filters.severity.join(','));
  if (filters.range) url.set('range', filters.range);
  if (filters.range === 'custom') {
    if (filters.from) url.set('from', filters.from);
    if (filters.to) url.set('to', filters.to);
  }
  if (filters.range === 'day' && filters.timestamp) url.set('timestamp', filters.timestamp);
  return url;
}

export function fromUrlParams(url: URLSearchParams): Filters {
  const filters = emptyFilters();
  for (const { key } of TEXT_FILTERS) filters[key] = url.get(key) ?? '';
  filters.search = url.get('search') ?? '';
  filters.severity = (url.get('severity') ?? '')
    .split(',')
    .map((s) => s.trim().toUpperCase())
    .filter((s) => (SEVERITIES as readonly string[]).includes(s));
  filters.range = url.get('range') ?? '';
  filters.from = url.get('from') ?? '';
  filters.to = url.get('to') ?? '';
  filters.timestamp = url.get('timestamp') ?? '';
  return filters;
}
