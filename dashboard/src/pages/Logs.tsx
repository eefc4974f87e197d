import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { call, enc } from '../api';
import { ThumbDown, ThumbUp } from '../components/Icons';
import { Link } from '../components/Link';
import { Notice } from '../components/Notice';
import { fmtCost, fmtInt, fmtMs, fmtTime, toLocalInput } from '../format';
import { useDraft, useInterval, useResource } from '../hooks';
import {
  defaultFilter,
  FILTER_KEYS,
  kindOf,
  LOG_RANGES,
  logsPath,
  OPERATORS,
  paramsToSearch,
  PER_PAGE,
  searchToParams,
  type Filter,
  type ListParams,
  type TimeRange,
} from '../logs';
import { navigate } from '../router';
import { getAccount } from '../session';
import type { Gateway, LogRow } from '../types';
import { metadataEntries } from '../types';

const LIVE_POLL_MS = 2000;

const COLUMNS: { label: string; order?: string; num?: boolean }[] = [
  { label: 'Status', order: 'status_code' },
  { label: 'Time', order: 'created_at' },
  { label: 'Provider', order: 'provider' },
  { label: 'Model', order: 'model' },
  { label: 'Tokens in / out', order: 'tokens_in', num: true },
  { label: 'Cost', order: 'cost', num: true },
  { label: 'Duration', order: 'duration', num: true },
  { label: 'Cached', order: 'cached' },
  { label: 'Metadata' },
];

export function LogsView({ gateway, search }: { gateway: Gateway; search: URLSearchParams }) {
  const account = getAccount();
  // The view lives in the URL: shareable, kept on reload, and Back undoes a change.
  const searchKey = search.toString();
  const params = useMemo(() => searchToParams(search), [searchKey]);
  const listPath = `/gateways/${enc(gateway.id)}/logs`;
  const setParams = (next: (p: ListParams) => ListParams, replace = false) =>
    navigate(listPath + paramsToSearch(next(params)), replace);
  // Back and forward bring the search box along.
  const [searchText, setSearchText] = useDraft(() => params.search, [params.search]);
  const [live, setLive] = useState(false);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const seen = useRef<Set<string> | null>(null);

  const list = useResource(() => call<LogRow[]>('GET', logsPath(account, gateway.id, params)), [account, gateway.id, searchKey]);

  // Rows that appeared since the last answer are highlighted (live mode follows new rows).
  useEffect(() => {
    const rows = list.data?.result;
    if (!rows) return;
    const ids = new Set(rows.map((r) => r.id));
    const before = seen.current;
    setFresh(before ? new Set([...ids].filter((id) => !before.has(id))) : new Set());
    seen.current = ids;
  }, [list.data]);

  useInterval(() => list.reload(), LIVE_POLL_MS, live);

  const update = (patch: Partial<ListParams>, replace = false) => setParams((p) => ({ ...p, page: 1, ...patch }), replace);

  // Search applies as you type, after a short pause, without a history entry per pause.
  useEffect(() => {
    if (searchText === params.search) return;
    const id = setTimeout(() => update({ search: searchText }, true), 300);
    return () => clearTimeout(id);
  }, [searchText]);

  const toggleLive = () => {
    const next = !live;
    setLive(next);
    if (next) update({ orderBy: 'created_at', direction: 'desc' });
  };

  const sortBy = (key: string) =>
    setParams((p) =>
      p.orderBy === key
        ? { ...p, page: 1, direction: p.direction === 'desc' ? 'asc' : 'desc' }
        : { ...p, page: 1, orderBy: key, direction: 'desc' },
    );

  const setFilter = (i: number, f: Filter | null) => {
    const next = [...params.filters];
    if (f) next[i] = f;
    else next.splice(i, 1);
    update({ filters: next });
  };

  const info = list.data?.result_info;
  const rows = list.data?.result ?? [];

  return (
    <div class="stack">
      <div class="card toolbar" role="search" aria-label="Filter logs">
        <label class="grow">
          <span class="sr-only">Search logs</span>
          <input
            type="search"
            placeholder="Search id, provider, model, path, metadata…"
            value={searchText}
            onInput={(e) => setSearchText(e.currentTarget.value)}
          />
        </label>
        <button type="button" class="btn btn-small" onClick={() => update({ filters: [...params.filters, defaultFilter()] })}>
          Add filter
        </button>
        <label class="select-label">
          Rows
          <select value={params.perPage} onChange={(e) => update({ perPage: Number(e.currentTarget.value) })}>
            {PER_PAGE.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="btn btn-small" onClick={() => void list.reload()}>
          Refresh
        </button>
        <button type="button" class={live ? 'btn btn-small btn-live' : 'btn btn-small'} aria-pressed={live} onClick={toggleLive}>
          <span class={live ? 'live-dot live-dot-on' : 'live-dot'} aria-hidden="true" />
          Live
        </button>
      </div>

      <RangePicker range={params.range} onChange={(range) => update({ range })} />

      {params.filters.length > 0 && (
        <ul class="filters" aria-label="Filters">
          {params.filters.map((f, i) => (
            // A new field remounts the row, so a value typed for the old field never lingers.
            <FilterRow key={`${i}:${f.key}`} index={i} filter={f} onChange={(nf) => setFilter(i, nf)} />
          ))}
        </ul>
      )}

      <Notice kind="error">{list.error?.message}</Notice>
      {!gateway.collect_logs && (
        <Notice kind="info">
          Logs are off for this gateway; new requests are not logged.{' '}
          <Link href={`/gateways/${enc(gateway.id)}/settings`}>Settings</Link>
        </Notice>
      )}

      <div class="table-wrap">
        <table class="table logs-table" aria-label="Request logs" aria-busy={list.loading}>
          <thead>
            <tr>
              {COLUMNS.map((c) => {
                const active = c.order && params.orderBy === c.order;
                return (
                  <th
                    key={c.label}
                    scope="col"
                    class={c.num ? 'num' : undefined}
                    aria-sort={active ? (params.direction === 'asc' ? 'ascending' : 'descending') : undefined}
                  >
                    {c.order && !live ? (
                      <button type="button" class="sort" onClick={() => sortBy(c.order as string)}>
                        {c.label}
                        <span aria-hidden="true">{active ? (params.direction === 'asc' ? ' ▲' : ' ▼') : ''}</span>
                      </button>
                    ) : (
                      c.label
                    )}
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && !list.loading && (
              <tr>
                <td colSpan={COLUMNS.length} class="empty">
                  No requests match.
                </td>
              </tr>
            )}
            {rows.map((r) => (
              <LogRowView key={r.id} row={r} href={`${listPath}/${enc(r.id)}${location.search}`} fresh={fresh.has(r.id)} />
            ))}
          </tbody>
        </table>
      </div>

      <nav class="pager" aria-label="Pages">
        <button
          type="button"
          class="btn btn-small"
          disabled={live || params.page <= 1}
          onClick={() => setParams((p) => ({ ...p, page: p.page - 1 }))}
        >
          Previous
        </button>
        <span class="muted" aria-live="polite">
          {info ? `Page ${info.page} of ${Math.max(1, info.total_pages)} · ${fmtInt(info.total_count)} requests` : ''}
          {live ? ' · live' : ''}
        </span>
        <button
          type="button"
          class="btn btn-small"
          disabled={live || !info || params.page >= info.total_pages}
          onClick={() => setParams((p) => ({ ...p, page: p.page + 1 }))}
        >
          Next
        </button>
      </nav>
    </div>
  );
}

function LogRowView({ row: r, href, fresh }: { row: LogRow; href: string; fresh: boolean }) {
  const meta = metadataEntries(r.metadata);
  const open = (e: MouseEvent) => {
    const target = e.target as HTMLElement;
    if (target.closest('a, button') || window.getSelection()?.toString()) return;
    navigate(href);
  };
  return (
    <tr class={fresh ? 'clickable row-new' : 'clickable'} data-log-id={r.id} onClick={open}>
      <td class="nowrap">
        <StatusBadge row={r} /> <AttemptMark row={r} /> <KindMark row={r} />
      </td>
      <td class="nowrap">
        <Link href={href}>{fmtTime(r.created_at)}</Link>
      </td>
      <td data-label="Provider">{r.provider}</td>
      <td class="cell-model" data-label="Model">
        {r.model || '—'}
      </td>
      <td class="num nowrap" data-label="Tokens">
        {r.tokens_in === null && r.tokens_out === null ? '—' : `${fmtInt(r.tokens_in)} / ${fmtInt(r.tokens_out)}`}
      </td>
      <td class="num" data-label="Cost">
        {fmtCost(r.cost)}
        {r.custom_cost ? '*' : ''}
      </td>
      <td class="num nowrap" data-label="Duration">
        {fmtMs(r.duration)}
      </td>
      <td data-label="Cached" class={r.cached ? undefined : 'cell-empty'}>{r.cached ? <span class="badge badge-blue">HIT</span> : <span class="muted">—</span>}</td>
      <td class={meta.length || r.feedback ? 'cell-meta' : 'cell-meta cell-empty'} data-label="Metadata">
        {meta.length === 0 ? (
          <span class="muted">—</span>
        ) : (
          <ul class="chips">
            {meta.map(([k, v]) => (
              <li key={k} class="chip">
                {k ? `${k}: ${v}` : v}
              </li>
            ))}
          </ul>
        )}
        {r.feedback === 1 && (
          <span class="feedback-mark" title="Marked good">
            <ThumbUp />
            <span class="sr-only">marked good</span>
          </span>
        )}
        {r.feedback === -1 && (
          <span class="feedback-mark" title="Marked bad">
            <ThumbDown />
            <span class="sr-only">marked bad</span>
          </span>
        )}
      </td>
    </tr>
  );
}

export function StatusBadge({ row: r }: { row: LogRow }) {
  const code = r.status_code;
  const cls = !r.success ? 'badge-status-5xx' : code && code >= 400 ? 'badge-status-4xx' : 'badge-status-2xx';
  return (
    <span class={`badge ${cls}`} title={r.error ?? (r.success ? 'success' : 'failed')}>
      {code ?? 'ERR'}
    </span>
  );
}

/** The content type of a realtime session's row (docs/websockets.md): one row per session. */
const SESSION_TYPE = 'application/vnd.tollgate.websocket-session+json';

/** Marks a row that is not one HTTP request: a realtime WebSocket session. */
export function KindMark({ row: r }: { row: LogRow }) {
  if (r.response_content_type === SESSION_TYPE) {
    return (
      <span class="badge badge-blue" data-kind="websocket" title="A realtime WebSocket session: one row for the whole session, its tokens and cost summed">
        WebSocket
      </span>
    );
  }
  return null;
}

/** Marks a retry or a fallback: the attempt number past the first, the universal step past the first. */
export function AttemptMark({ row: r }: { row: LogRow }) {
  const attempt = r.attempts ?? 1;
  const step = r.step ?? 0;
  if (attempt <= 1 && step <= 0) return null;
  const parts = [step > 0 ? `step ${step}` : '', attempt > 1 ? `attempt ${attempt}` : ''].filter(Boolean);
  return (
    <span class="badge badge-gray" data-attempt={attempt} title="A retry or fallback of one request; its detail lists the other attempts">
      {parts.join(' · ')}
    </span>
  );
}

/** The time range: presets ending now, or a custom from/to (either end may stay open). */
function RangePicker({ range, onChange }: { range: TimeRange; onChange: (r: TimeRange) => void }) {
  const local = (iso: string) => {
    const d = new Date(iso);
    return iso && !Number.isNaN(d.getTime()) ? toLocalInput(d) : '';
  };
  const [from, setFrom] = useState(local(range.from));
  const [to, setTo] = useState(local(range.to));
  const [open, setOpen] = useState(range.key === 'custom');
  useEffect(() => {
    setFrom(local(range.from));
    setTo(local(range.to));
    setOpen(range.key === 'custom');
  }, [range.key, range.from, range.to]);
  const iso = (v: string) => {
    const t = Date.parse(v);
    return Number.isNaN(t) ? '' : new Date(t).toISOString();
  };
  const invalid = from && to && Date.parse(from) >= Date.parse(to) ? 'The start must be before the end.' : '';
  return (
    <form
      class="card toolbar"
      aria-label="Time range"
      onSubmit={(e) => {
        e.preventDefault();
        if (!invalid) onChange({ key: 'custom', from: iso(from), to: iso(to) });
      }}
    >
      <div class="segmented" role="group" aria-label="Time range presets">
        {LOG_RANGES.map((r) => (
          <button
            key={r.key}
            type="button"
            class="btn btn-small"
            aria-pressed={range.key === r.key && !open}
            onClick={() => {
              setOpen(false);
              onChange({ key: r.key, from: '', to: '' });
            }}
          >
            {r.label}
          </button>
        ))}
        <button type="button" class="btn btn-small" aria-pressed={open} onClick={() => setOpen(true)}>
          Custom
        </button>
      </div>
      {open && (
        <div class="custom-range">
          <label>
            From <input type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
          </label>
          <label>
            to <input type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
          </label>
          <button type="submit" class="btn btn-small" disabled={!!invalid || (!from && !to)}>
            Apply
          </button>
          {invalid && <span class="field-error">{invalid}</span>}
        </div>
      )}
    </form>
  );
}

function FilterRow({ index, filter: f, onChange }: { index: number; filter: Filter; onChange: (f: Filter | null) => void }) {
  const kind = kindOf(f.key);
  // Back and forward change the value under the field.
  const [text, setText] = useDraft(() => f.value, [f.value]);
  const latest = useRef(f);
  latest.current = f;
  // Text values apply after a pause in typing (or at once with Enter).
  const commit = (value: string) => {
    if (value !== latest.current.value) onChange({ ...latest.current, value });
  };
  useEffect(() => {
    if (kind === 'bool' || kind === 'feedback') return;
    const id = setTimeout(() => commit(text), 400);
    return () => clearTimeout(id);
  }, [text]);
  const n = index + 1;
  return (
    <li class="filter card">
      <label>
        <span class="sr-only">Filter {n} field</span>
        <select
          value={f.key}
          onChange={(e) => {
            const next = e.currentTarget.value;
            onChange(kindOf(next) === kind ? { ...f, key: next } : defaultFilter(next));
          }}
        >
          {FILTER_KEYS.map((k) => (
            <option key={k.key} value={k.key}>
              {k.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span class="sr-only">Filter {n} operator</span>
        <select value={f.operator} onChange={(e) => onChange({ ...f, operator: e.currentTarget.value })}>
          {OPERATORS[kind].map((o) => (
            <option key={o.op} value={o.op}>
              {o.label}
            </option>
          ))}
        </select>
      </label>
      <label class="grow">
        <span class="sr-only">Filter {n} value</span>
        {kind === 'bool' ? (
          <select value={f.value} onChange={(e) => onChange({ ...f, value: e.currentTarget.value })}>
            <option value="true">yes</option>
            <option value="false">no</option>
          </select>
        ) : kind === 'feedback' ? (
          <select value={f.value} onChange={(e) => onChange({ ...f, value: e.currentTarget.value })}>
            <option value="1">good</option>
            <option value="-1">bad</option>
            <option value="null">none</option>
          </select>
        ) : (
          <input
            value={text}
            inputMode={kind === 'number' ? 'decimal' : undefined}
            placeholder="value"
            onInput={(e) => setText(e.currentTarget.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') commit(text);
            }}
          />
        )}
      </label>
      <button type="button" class="btn btn-small" aria-label={`Remove filter ${n}`} onClick={() => onChange(null)}>
        ✕
      </button>
    </li>
  );
}
