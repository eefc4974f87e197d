// Analytics queries and the shaping of their answers into chart columns.

import { enc, get, query } from './api';
import type { Analytics, Point, Series } from './types';

export type RangeKey = '1h' | '24h' | '7d' | 'custom';
export type Interval = 'minute' | 'hour' | 'day';

export const RANGES: { key: RangeKey; label: string; ms: number }[] = [
  { key: '1h', label: 'Last hour', ms: 3_600_000 },
  { key: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { key: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
];

export const STEP_MS: Record<Interval, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

export interface Window {
  startMs: number;
  endMs: number;
  interval: Interval;
}

/** The interval the API would pick: minutes up to 6 h, hours up to 14 days, days beyond. */
export function intervalFor(spanMs: number): Interval {
  if (spanMs <= 6 * 3_600_000) return 'minute';
  if (spanMs <= 14 * 86_400_000) return 'hour';
  return 'day';
}

/** A relative range ends now; a custom one is two `datetime-local` values. */
export function resolveWindow(key: RangeKey, start: string, end: string, now = Date.now()): Window | string {
  if (key !== 'custom') {
    const ms = RANGES.find((r) => r.key === key)?.ms ?? 86_400_000;
    return { startMs: now - ms, endMs: now, interval: intervalFor(ms) };
  }
  const s = Date.parse(start);
  const e = Date.parse(end);
  if (Number.isNaN(s) || Number.isNaN(e)) return 'Choose a start and an end.';
  if (s >= e) return 'The start must be before the end.';
  return { startMs: s, endMs: e, interval: intervalFor(e - s) };
}

export interface Filters {
  gatewayId?: string;
  provider?: string;
  model?: string;
}

export function fetchAnalytics(account: string, w: Window, f: Filters, groupBy?: string): Promise<Analytics> {
  return get<Analytics>(
    `/accounts/${enc(account)}/ai-gateway/analytics${query([
      ['gateway_id', f.gatewayId],
      ['start', new Date(w.startMs).toISOString()],
      ['end', new Date(w.endMs).toISOString()],
      ['interval', w.interval],
      ['group_by', groupBy],
      ['provider', f.provider],
      ['model', f.model],
    ])}`,
  );
}

/** How far back the search for data goes when a range is empty: day buckets, well under the API's 50,000 points. */
const EXTENT_LOOKBACK_MS = 5 * 366 * 86_400_000;

/**
 * The window that holds the data matching `f` (day buckets, up to five years back), or null
 * when there is none: what an empty range offers instead.
 */
export async function dataExtent(account: string, f: Filters, now = Date.now()): Promise<Window | null> {
  const w: Window = { startMs: now - EXTENT_LOOKBACK_MS, endMs: now, interval: 'day' };
  const days = (await fetchAnalytics(account, w, f)).series
    .flatMap((s) => s.points)
    .filter((p) => p.requests > 0)
    .map((p) => Date.parse(p.time));
  if (days.length === 0) return null;
  const startMs = Math.min(...days);
  // Up to the next whole minute: a custom range is picked to the minute, and the newest request
  // may be in the current one.
  const endMs = Math.ceil(Math.min(now, Math.max(...days) + STEP_MS.day) / STEP_MS.minute) * STEP_MS.minute;
  return { startMs, endMs, interval: intervalFor(endMs - startMs) };
}

/** Status classes that are errors, named (the rest are not listed under "Errors by status"). */
export const ERROR_STATUSES: Record<string, string> = {
  '4xx': 'client errors',
  '5xx': 'server errors',
  none: 'no response',
};

/** Every bucket start of the window, in seconds (uPlot's x). */
export function bucketTimes(w: Window): number[] {
  const step = STEP_MS[w.interval];
  const first = Math.floor(w.startMs / step) * step;
  const out: number[] = [];
  for (let t = first; t < w.endMs; t += step) out.push(t / 1000);
  return out;
}

/**
 * One column per bucket from a series' points: buckets without traffic are `empty` (0 for
 * counts, null for latencies and rates, which are undefined there).
 */
export function column(
  x: number[],
  points: Point[] | undefined,
  pick: (p: Point) => number | null,
  empty: number | null = 0,
): (number | null)[] {
  const at = new Map<number, Point>();
  for (const p of points ?? []) at.set(Date.parse(p.time) / 1000, p);
  return x.map((t) => {
    const p = at.get(t);
    return p ? pick(p) : empty;
  });
}

/** The group values of a grouped answer, by total requests, most first. */
export function groupValues(series: Series[], key: string): string[] {
  return series
    .map((s) => ({ v: s.group?.[key] ?? '', n: s.points.reduce((a, p) => a + p.requests, 0) }))
    .filter((g) => g.v !== '')
    .sort((a, b) => b.n - a.n || a.v.localeCompare(b.v))
    .map((g) => g.v);
}

export function sumBy(series: Series | undefined, pick: (p: Point) => number): number {
  return (series?.points ?? []).reduce((a, p) => a + pick(p), 0);
}

export const INTERVAL_UNIT: Record<Interval, string> = { minute: 'min', hour: 'hour', day: 'day' };
