import { useMemo, useState } from 'preact/hooks';
import {
  bucketTimes,
  column,
  dataExtent,
  ERROR_STATUSES,
  fetchAnalytics,
  groupValues,
  INTERVAL_UNIT,
  RANGES,
  resolveWindow,
  STEP_MS,
  sumBy,
  type RangeKey,
  type Window as Span,
} from '../analytics';
import { enc } from '../api';
import { Chart, type ChartSeries } from '../components/Chart';
import { Link } from '../components/Link';
import { Notice } from '../components/Notice';
import { fmtCompact, fmtCost, fmtCostAxis, fmtInt, fmtMs, fmtPct, fmtTime, toLocalInput } from '../format';
import { useInterval, useResource, useTitle } from '../hooks';
import { replaceSearch } from '../router';
import { getAccount } from '../session';
import type { Analytics, Measures } from '../types';
import { SpendBy } from './SpendBy';

/** Overall analytics: every gateway of the account, with a per-gateway table. */
export function AnalyticsPage({ search }: { search: URLSearchParams }) {
  useTitle('Analytics');
  return (
    <section>
      <div class="page-head">
        <h1>Analytics</h1>
        <p class="muted">All gateways of the account. Every request is counted, logged or not.</p>
      </div>
      <AnalyticsView search={search} />
    </section>
  );
}

const STATUS_COLORS: Record<string, ChartSeries['color']> = {
  '2xx': 'green',
  '3xx': 'teal',
  '4xx': 'amber',
  '5xx': 'red',
  none: 'gray',
};

interface Loaded {
  main: Analytics;
  /** Only looked up when the range is empty: where the data is (null: there is none). */
  extent?: Span | null;
  status: Analytics;
  providers: string[];
  models: string[];
  gateways?: Analytics;
  at: Date;
}

/** Analytics for one gateway (`gatewayId`) or all of them. */
export function AnalyticsView({ gatewayId, search }: { gatewayId?: string; search: URLSearchParams }) {
  const account = getAccount();
  const initialRange = (search.get('range') as RangeKey) || '24h';
  const [range, setRange] = useState<RangeKey>(RANGES.some((r) => r.key === initialRange) || initialRange === 'custom' ? initialRange : '24h');
  const [customStart, setCustomStart] = useState(search.get('start') || toLocalInput(new Date(Date.now() - 86_400_000)));
  const [customEnd, setCustomEnd] = useState(search.get('end') || toLocalInput(new Date()));
  const [applied, setApplied] = useState({ start: customStart, end: customEnd });
  const [provider, setProvider] = useState(search.get('provider') || '');
  const [model, setModel] = useState(search.get('model') || '');
  const [tick, setTick] = useState(0);

  const win = useMemo(() => resolveWindow(range, applied.start, applied.end), [range, applied, tick]);

  const data = useResource(async (): Promise<Loaded | undefined> => {
    if (typeof win === 'string') return undefined;
    const f = { gatewayId, provider, model };
    const [main, status, byProvider, byModel, gateways] = await Promise.all([
      fetchAnalytics(account, win, f),
      fetchAnalytics(account, win, f, 'status'),
      fetchAnalytics(account, win, { gatewayId }, 'provider'),
      fetchAnalytics(account, win, { gatewayId, provider }, 'model'),
      gatewayId ? undefined : fetchAnalytics(account, win, f, 'gateway'),
    ]);
    // An empty range says where the data is instead (docs/dashboard.md).
    const extent = main.totals.requests === 0 ? await dataExtent(account, f) : undefined;
    return {
      main,
      extent,
      status,
      providers: groupValues(byProvider.series, 'provider'),
      models: groupValues(byModel.series, 'model'),
      gateways,
      at: new Date(),
    };
  }, [account, gatewayId, win, provider, model]);

  // Relative ranges move with the clock.
  useInterval(() => setTick((t) => t + 1), 10_000, range !== 'custom');

  const choose = (key: RangeKey) => {
    setRange(key);
    replaceSearch({ range: key === '24h' ? '' : key });
  };

  const loaded = data.data;
  const x = typeof win === 'string' ? [] : bucketTimes(win);
  const per = typeof win === 'string' ? '' : INTERVAL_UNIT[win.interval];
  const step = typeof win === 'string' ? 60 : STEP_MS[win.interval] / 1000;
  const main = loaded?.main.series[0]?.points;
  const t = loaded?.main.totals;

  return (
    <div class="stack">
      <form
        class="toolbar card"
        aria-label="Analytics filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied({ start: customStart, end: customEnd });
          replaceSearch({ start: customStart, end: customEnd });
        }}
      >
        <div class="segmented" role="group" aria-label="Time range">
          {RANGES.map((r) => (
            <button key={r.key} type="button" class="btn btn-small" aria-pressed={range === r.key} onClick={() => choose(r.key)}>
              {r.label}
            </button>
          ))}
          <button type="button" class="btn btn-small" aria-pressed={range === 'custom'} onClick={() => choose('custom')}>
            Custom
          </button>
        </div>
        {range === 'custom' && (
          <div class="custom-range">
            <label>
              From{' '}
              <input type="datetime-local" value={customStart} onInput={(e) => setCustomStart(e.currentTarget.value)} />
            </label>
            <label>
              to <input type="datetime-local" value={customEnd} onInput={(e) => setCustomEnd(e.currentTarget.value)} />
            </label>
            <button type="submit" class="btn btn-small">
              Apply
            </button>
          </div>
        )}
        <label class="select-label">
          Provider
          <select
            value={provider}
            onChange={(e) => {
              setProvider(e.currentTarget.value);
              setModel('');
              replaceSearch({ provider: e.currentTarget.value, model: '' });
            }}
          >
            <option value="">All providers</option>
            {withCurrent(loaded?.providers, provider).map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label class="select-label">
          Model
          <select
            value={model}
            onChange={(e) => {
              setModel(e.currentTarget.value);
              replaceSearch({ model: e.currentTarget.value });
            }}
          >
            <option value="">All models</option>
            {withCurrent(loaded?.models, model).map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="btn btn-small" onClick={() => setTick((n) => n + 1)} disabled={data.loading}>
          Refresh
        </button>
        <span class="muted updated" aria-live="polite">
          {data.loading ? 'Loading…' : loaded ? `Updated ${loaded.at.toLocaleTimeString()}` : ''}
        </span>
      </form>

      <Notice kind="error">{typeof win === 'string' ? win : data.error?.message}</Notice>

      {loaded && loaded.extent !== undefined && (
        <EmptyRange
          extent={loaded.extent}
          gateway={!!gatewayId}
          filtered={!!(provider || model)}
          onShow={(w) => {
            const start = toLocalInput(new Date(w.startMs));
            const end = toLocalInput(new Date(w.endMs));
            setRange('custom');
            setCustomStart(start);
            setCustomEnd(end);
            setApplied({ start, end });
            replaceSearch({ range: 'custom', start, end });
          }}
        />
      )}

      {t && <Totals totals={t} status={loaded.status} />}

      {loaded && (
        <div class="charts">
          <Chart
            id="requests"
            title="Requests"
            unit={`requests / ${per}`}
            kind="bars"
            x={x}
            step={step}
            format={fmtCompact}
            series={[
              { label: 'Requests', color: 'blue', values: column(x, main, (p) => p.requests) },
              { label: 'Errors', color: 'red', values: column(x, main, (p) => p.errors) },
            ]}
          />
          <Chart
            id="status"
            title="Responses by status"
            unit={`requests / ${per}`}
            kind="bars"
            stacked
            x={x}
            step={step}
            format={fmtCompact}
            series={loaded.status.series.map((s) => {
              const status = s.group?.status ?? 'none';
              return { label: status, color: STATUS_COLORS[status] ?? 'purple', values: column(x, s.points, (p) => p.requests) };
            })}
          />
          <Chart
            id="latency"
            title="Latency"
            unit="ms"
            x={x}
            step={step}
            format={(v) => fmtMs(v).replace(' ms', '')}
            series={[
              { label: 'p50', color: 'green', values: column(x, main, (p) => p.duration_p50, null) },
              { label: 'p95', color: 'amber', values: column(x, main, (p) => p.duration_p95, null) },
              { label: 'p99', color: 'red', values: column(x, main, (p) => p.duration_p99, null) },
            ]}
          />
          <Chart
            id="tokens"
            title="Tokens"
            unit={`tokens / ${per}`}
            kind="bars"
            stacked
            x={x}
            step={step}
            format={fmtCompact}
            series={[
              { label: 'In', color: 'blue', values: column(x, main, (p) => p.tokens_in) },
              { label: 'Out', color: 'purple', values: column(x, main, (p) => p.tokens_out) },
            ]}
          />
          <Chart
            id="cost"
            title="Cost"
            unit={`USD / ${per}`}
            kind="bars"
            x={x}
            step={step}
            format={fmtCostAxis}
            series={[{ label: 'Cost', color: 'teal', values: column(x, main, (p) => p.cost) }]}
          />
          <Chart
            id="rates"
            title="Success and cache hit rate"
            unit="%"
            max={100}
            x={x}
            step={step}
            format={(v) => `${Number(v.toFixed(1))}%`}
            series={[
              { label: 'Success', color: 'green', values: column(x, main, (p) => (100 * (p.requests - p.errors)) / p.requests, null) },
              { label: 'Cache hits', color: 'blue', values: column(x, main, (p) => (100 * p.cached_requests) / p.requests, null) },
            ]}
          />
        </div>
      )}

      {typeof win !== 'string' && (
        <SpendBy account={account} win={win} filters={{ gatewayId, provider, model }} initial={search.get('spend_by') || 'token'} />
      )}

      {loaded?.gateways && <ByGateway data={loaded.gateways} />}
    </div>
  );
}

/** Says that the range is empty, and offers the range that holds the data, if any. */
function EmptyRange({
  extent,
  gateway,
  filtered,
  onShow,
}: {
  extent: Span | null;
  gateway: boolean;
  filtered: boolean;
  onShow: (w: Span) => void;
}) {
  if (!extent) {
    return (
      <p class="notice notice-info" data-empty="none" role="status">
        {filtered
          ? 'No requests match this provider and model yet.'
          : `No requests yet${gateway ? ' through this gateway' : ''}. Send one through a gateway's endpoint (its Endpoints tab has the URLs); it is counted here within seconds.`}
      </p>
    );
  }
  const from = new Date(extent.startMs).toISOString();
  const to = new Date(extent.endMs).toISOString();
  return (
    <p class="notice notice-info" data-empty="range" role="status">
      No requests in this range. The data is from {fmtTime(from)} to {fmtTime(to)}.{' '}
      <button type="button" class="btn btn-small" onClick={() => onShow(extent)}>
        Show that range
      </button>
    </p>
  );
}

function withCurrent(values: string[] | undefined, current: string): string[] {
  const v = values ?? [];
  return current && !v.includes(current) ? [current, ...v] : v;
}

function Totals({ totals: t, status }: { totals: Measures; status: Analytics }) {
  const ok = t.requests ? (t.requests - t.errors) / t.requests : null;
  const hit = t.requests ? t.cached_requests / t.requests : null;
  // Errors only: 2xx and 3xx answers are not listed here.
  const byStatus = status.series
    .map((s) => ({ status: s.group?.status ?? 'none', n: sumBy(s, (p) => p.requests) }))
    .filter((s) => s.status in ERROR_STATUSES && s.n > 0)
    .sort((a, b) => a.status.localeCompare(b.status));
  const cards: [string, string, string, string?][] = [
    ['requests', 'Requests', fmtInt(t.requests)],
    ['success', 'Success rate', fmtPct(ok), `${fmtInt(t.errors)} errors`],
    ['tokens', 'Tokens in / out', `${fmtCompact(t.tokens_in)} / ${fmtCompact(t.tokens_out)}`],
    ['cost', 'Cost', fmtCost(t.cost)],
    ['cache', 'Cache hit rate', fmtPct(hit), `${fmtInt(t.cached_requests)} cached`],
    ['latency', 'Latency p50 / p95 / p99', `${fmtMs(t.duration_p50)} / ${fmtMs(t.duration_p95)} / ${fmtMs(t.duration_p99)}`],
  ];
  return (
    <section aria-label="Totals">
      <dl class="totals">
        {cards.map(([key, label, value, sub]) => (
          <div class="total card" key={key} data-metric={key}>
            <dt>{label}</dt>
            <dd>
              <span class="total-value">{value}</span>
              {sub && <span class="total-sub">{sub}</span>}
            </dd>
          </div>
        ))}
      </dl>
      {t.requests > 0 && (
        <p class="status-line" data-metric="status">
          <span class="muted">Errors by status:</span>{' '}
          {byStatus.length === 0 && <span class="muted">none</span>}
          {byStatus.map((s) => (
            <span key={s.status} class={`badge badge-status-${s.status}`}>
              {s.status === 'none' ? '' : `${s.status} `}
              {ERROR_STATUSES[s.status]}: {fmtInt(s.n)}
            </span>
          ))}
        </p>
      )}
    </section>
  );
}

function ByGateway({ data }: { data: Analytics }) {
  const rows = data.series
    .map((s) => ({
      id: s.group?.gateway ?? '',
      requests: sumBy(s, (p) => p.requests),
      errors: sumBy(s, (p) => p.errors),
      cached: sumBy(s, (p) => p.cached_requests),
      tokens: sumBy(s, (p) => p.tokens_in + p.tokens_out),
      cost: sumBy(s, (p) => p.cost),
    }))
    .sort((a, b) => b.requests - a.requests);
  return (
    <section class="card" aria-labelledby="by-gateway-title">
      <h2 id="by-gateway-title">By gateway</h2>
      <div class="table-wrap">
        <table class="table">
          <thead>
            <tr>
              <th scope="col">Gateway</th>
              <th scope="col" class="num">
                Requests
              </th>
              <th scope="col" class="num">
                Errors
              </th>
              <th scope="col" class="num">
                Cached
              </th>
              <th scope="col" class="num">
                Tokens
              </th>
              <th scope="col" class="num">
                Cost
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && (
              <tr>
                <td colSpan={6} class="empty">
                  No requests in this range.
                </td>
              </tr>
            )}
            {rows.map((r) => (
              <tr key={r.id}>
                <th scope="row">
                  <Link href={`/gateways/${enc(r.id)}/analytics`}>{r.id}</Link>
                </th>
                <td class="num">{fmtInt(r.requests)}</td>
                <td class="num">{fmtInt(r.errors)}</td>
                <td class="num">{fmtInt(r.cached)}</td>
                <td class="num">{fmtCompact(r.tokens)}</td>
                <td class="num">{fmtCost(r.cost)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
