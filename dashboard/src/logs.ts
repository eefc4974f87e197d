// The logs list query: filters in the bracket form the API accepts
// (`filters[i][key]=…&filters[i][operator]=…&filters[i][value]=…`).

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

export interface ListParams {
  page: number;
  perPage: number;
  orderBy: string;
  direction: 'asc' | 'desc';
  search: string;
  filters: Filter[];
}

export function logsPath(account: string, gateway: string, p: ListParams): string {
  const pairs: [string, string | number | undefined][] = [
    ['page', p.page],
    ['per_page', p.perPage],
    ['order_by', p.orderBy],
    ['order_by_direction', p.direction],
    ['search', p.search.trim()],
  ];
  p.filters
    .filter((f) => f.value.trim() !== '')
    .forEach((f, i) => {
      pairs.push([`filters[${i}][key]`, f.key], [`filters[${i}][operator]`, f.operator], [`filters[${i}][value]`, f.value.trim()]);
    });
  return `/accounts/${enc(account)}/ai-gateway/gateways/${enc(gateway)}/logs${query(pairs)}`;
}
