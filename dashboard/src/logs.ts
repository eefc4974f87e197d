// The logs list query: filters in the bracket form the API accepts
// (`filters[i][key]=…&filters[i][operator]=…&filters[i][value]=…`), the time range as
// `created_at` filters, and the whole view as the page's own query string (docs/dashboard.md).

import { enc, query } from './api';

export type FilterKind = 'text' | 'number' | 'bool' | 'feedback';

export const FILTER_KEYS: { key: string; label: string; kind: FilterKind }[] = [
  { key: 'provider', label: 'Provider', kind: 'text' },
  { key: 'model', label: 'Model', kind: 'text' },
  { key: 'status_code', label: 'Status code', kind: 'number' },
  { key: 'success', label: 'Success', kind: 'bool' },
  { key: 'cached', label: 'Cached', kind: 'bool' },
  { key: 'duration', label: 'Duration (ms)', kind: 'number' },
  { key: 'cost', label: 'Cost (USD)', kind: 'number' },
  { key: 'tokens_in', label: 'Tokens in', kind: 'number' },
  { key: 'tokens_out', label: 'Tokens out', kind: 'number' },
  { key: 'feedback', label: 'Feedback', kind: 'feedback' },
  { key: 'metadata.key', label: 'Metadata key', kind: 'text' },
  { key: 'metadata.value', label: 'Metadata value', kind: 'text' },
  { key: 'path', label: 'Path', kind: 'text' },
  { key: 'event_id', label: 'Event id', kind: 'text' },
  { key: 'id', label: 'Log id', kind: 'text' },
];

export const OPERATORS: Record<FilterKind, { op: string; label: string }[]> = {
  text: [
    { op: 'eq', label: 'is' },
    { op: 'neq', label: 'is not' },
    { op: 'contains', label: 'contains' },
  ],
  number: [
    { op: 'eq', label: '=' },
    { op: 'neq', label: '≠' },
    { op: 'gt', label: '>' },
    { op: 'lt', label: '<' },
  ],
  bool: [
    { op: 'eq', label: 'is' },
    { op: 'neq', label: 'is not' },
  ],
  feedback: [
    { op: 'eq', label: 'is' },
    { op: 'neq', label: 'is not' },
  ],
};

export interface Filter {
  key: string;
  operator: string;
  value: string;
}

export function kindOf(key: string): FilterKind {
  return FILTER_KEYS.find((k) => k.key === key)?.kind ?? 'text';
}

export function defaultFilter(key = 'provider'): Filter {
  const kind = kindOf(key);
  return { key, operator: 'eq', value: kind === 'bool' ? 'false' : kind === 'feedback' ? '1' : '' };
}

export type RangeKey = 'all' | '15m' | '1h' | '24h' | '7d' | 'custom';

export const LOG_RANGES: { key: Exclude<RangeKey, 'custom'>; label: string; ms: number }[] = [
  { key: '15m', label: 'Last 15 min', ms: 15 * 60_000 },
  { key: '1h', label: 'Last hour', ms: 3_600_000 },
  { key: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { key: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { key: 'all', label: 'All', ms: 0 },
];

/** A preset ends now (so live mode keeps following); a custom range has RFC 3339 ends, either optional. */
export interface TimeRange {
  key: RangeKey;
  from: string;
  to: string;
}

export interface ListParams {
  page: number;
  perPage: number;
  orderBy: string;
  direction: 'asc' | 'desc';
  search: string;
  filters: Filter[];
  range: TimeRange;
}

export const PER_PAGE = [10, 20, 50];

export const DEFAULT_PARAMS: ListParams = {
  page: 1,
  perPage: 20,
  orderBy: 'created_at',
  direction: 'desc',
  search: '',
  filters: [],
  range: { key: 'all', from: '', to: '' },
};

/** `created_at` bounds (ms) of a range at `now`; undefined ends are open. */
export function rangeBounds(r: TimeRange, now = Date.now()): { from?: number; to?: number } {
  if (r.key === 'custom') {
    const from = Date.parse(r.from);
    const to = Date.parse(r.to);
    return { from: Number.isNaN(from) ? undefined : from, to: Number.isNaN(to) ? undefined : to };
  }
  const ms = LOG_RANGES.find((x) => x.key === r.key)?.ms ?? 0;
  return ms ? { from: now - ms } : {};
}

// The page's query string: short names, defaults left out, one `filter=key:operator:value` per
// filter (keys and operators hold no colon, so the value may).
export function paramsToSearch(p: ListParams): string {
  const d = DEFAULT_PARAMS;
  const pairs: [string, string | number | undefined][] = [
    ['q', p.search.trim()],
    ['range', p.range.key === d.range.key ? undefined : p.range.key],
    ['from', p.range.key === 'custom' ? p.range.from : undefined],
    ['to', p.range.key === 'custom' ? p.range.to : undefined],
  ];
  for (const f of p.filters) pairs.push(['filter', `${f.key}:${f.operator}:${f.value}`]);
  pairs.push(
    ['order_by', p.orderBy === d.orderBy ? undefined : p.orderBy],
    ['dir', p.direction === d.direction ? undefined : p.direction],
    ['per_page', p.perPage === d.perPage ? undefined : p.perPage],
    ['page', p.page === 1 ? undefined : p.page],
  );
  return query(pairs);
}

/** The view a query string names; anything unknown or malformed falls back to the default. */
export function searchToParams(s: URLSearchParams): ListParams {
  const d = DEFAULT_PARAMS;
  const filters: Filter[] = [];
  for (const text of s.getAll('filter')) {
    const [key, operator, ...rest] = text.split(':');
    const kind = FILTER_KEYS.find((k) => k.key === key)?.kind;
    if (kind && OPERATORS[kind].some((o) => o.op === operator)) filters.push({ key, operator, value: rest.join(':') });
  }
  const rangeKey = s.get('range') as RangeKey | null;
  const key = rangeKey === 'custom' || LOG_RANGES.some((r) => r.key === rangeKey) ? (rangeKey as RangeKey) : d.range.key;
  const page = Number(s.get('page'));
  const perPage = Number(s.get('per_page'));
  const orderBy = s.get('order_by');
  const dir = s.get('dir');
  return {
    page: Number.isInteger(page) && page >= 1 ? page : 1,
    perPage: PER_PAGE.includes(perPage) ? perPage : d.perPage,
    orderBy: orderBy && /^[a-z_]{1,32}$/.test(orderBy) ? orderBy : d.orderBy,
    direction: dir === 'asc' || dir === 'desc' ? dir : d.direction,
    search: s.get('q') ?? '',
    filters,
    range: { key, from: key === 'custom' ? s.get('from') ?? '' : '', to: key === 'custom' ? s.get('to') ?? '' : '' },
  };
}

export function logsPath(account: string, gateway: string, p: ListParams, now = Date.now()): string {
  const pairs: [string, string | number | undefined][] = [
    ['page', p.page],
    ['per_page', p.perPage],
    ['order_by', p.orderBy],
    ['order_by_direction', p.direction],
    ['search', p.search.trim()],
  ];
  const all = p.filters.filter((f) => f.value.trim() !== '');
  const { from, to } = rangeBounds(p.range, now);
  if (from !== undefined) all.push({ key: 'created_at', operator: 'gt', value: new Date(from).toISOString() });
  if (to !== undefined) all.push({ key: 'created_at', operator: 'lt', value: new Date(to).toISOString() });
  all.forEach((f, i) => {
    pairs.push([`filters[${i}][key]`, f.key], [`filters[${i}][operator]`, f.operator], [`filters[${i}][value]`, f.value.trim()]);
  });
  return `/accounts/${enc(account)}/ai-gateway/gateways/${enc(gateway)}/logs${query(pairs)}`;
}
