import { useState } from 'preact/hooks';
import { fetchAnalytics, sumBy, type Filters, type Window as Span } from '../analytics';
import { enc, get } from '../api';
import { Field, invalidBy } from '../components/Field';
import { Notice } from '../components/Notice';
import { fmtCost, fmtInt } from '../format';
import { useResource } from '../hooks';
import { replaceSearch } from '../router';
import type { RunToken } from '../types';

interface Row {
  /** The group's value: a token id or a metadata value; null for requests without one. */
  value: string | null;
  requests: number;
  errors: number;
  cost: number;
}

/** `token` or `metadata.<key>`: the analytics API's `group_by` (docs/analytics.md). */
function parse(groupBy: string): { mode: 'token' | 'metadata'; key: string } {
  return groupBy.startsWith('metadata.') ? { mode: 'metadata', key: groupBy.slice('metadata.'.length) } : { mode: 'token', key: '' };
}

/**
 * Spend per run token or per value of a metadata key over the analytics range, from the log
 * rows (`group_by=token`, `group_by=metadata.<key>`): cost and requests, most costly first.
 */
export function SpendBy({ account, win, filters, initial }: { account: string; win: Span; filters: Filters; initial: string }) {
  const start = parse(initial);
  const [mode, setMode] = useState(start.mode);
  const [key, setKey] = useState(start.key);
  const [groupBy, setGroupBy] = useState(start.mode === 'metadata' && start.key ? `metadata.${start.key}` : 'token');

  const data = useResource(async () => {
    const [analytics, tokens] = await Promise.all([
      fetchAnalytics(account, win, filters, groupBy),
      // Names for the ids; a revoked token is no longer listed and shows as its id.
      groupBy === 'token' ? get<RunToken[]>(`/accounts/${enc(account)}/ai-gateway/tokens`) : Promise.resolve([]),
    ]);
    const rows: Row[] = analytics.series
      .map((s) => ({
        value: s.group?.[groupBy] ?? null,
        requests: sumBy(s, (p) => p.requests),
        errors: sumBy(s, (p) => p.errors),
        cost: sumBy(s, (p) => p.cost),
      }))
      .filter((r) => r.requests > 0)
      .sort((a, b) => b.cost - a.cost || b.requests - a.requests);
    return { rows, names: new Map(tokens.map((t) => [t.id, t.name])), groupBy };
  }, [account, win, filters.gatewayId, filters.provider, filters.model, groupBy]);

  const choose = (next: string) => {
    setGroupBy(next);
    replaceSearch({ spend_by: next === 'token' ? '' : next });
  };
  const keyError = mode === 'metadata' && data.error ? data.error.message : '';
  const shown = data.data;

  return (
    <section class="card" aria-labelledby="spend-by-title">
      <h2 id="spend-by-title">Spend by {groupBy === 'token' ? 'run token' : `metadata ${groupBy.slice('metadata.'.length)}`}</h2>
      <p class="muted">From the logged requests of the range: requests that were not logged are not counted here.</p>
      <form
        class="toolbar"
        aria-label="Group spend by"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (mode === 'token') choose('token');
          else choose(`metadata.${key.trim()}`);
        }}
      >
        <div class="segmented" role="group" aria-label="Group by">
          <button
            type="button"
            class="btn btn-small"
            aria-pressed={mode === 'token'}
            onClick={() => {
              setMode('token');
              choose('token');
            }}
          >
            Run token
          </button>
          <button type="button" class="btn btn-small" aria-pressed={mode === 'metadata'} onClick={() => setMode('metadata')}>
            Metadata key
          </button>
        </div>
        {mode === 'metadata' && (
          <>
            <Field id="spend-by-key" label="Key" error={keyError}>
              <input
                id="spend-by-key"
                autocomplete="off"
                placeholder="team"
                value={key}
                {...invalidBy('spend-by-key', false, keyError)}
                onInput={(e) => setKey(e.currentTarget.value)}
              />
            </Field>
            <button type="submit" class="btn btn-small">
              Group
            </button>
          </>
        )}
      </form>
      {mode === 'token' && <Notice kind="error">{data.error?.message}</Notice>}
      {shown && (
        <div class="table-wrap">
          <table class="table" aria-label={shown.groupBy === 'token' ? 'Spend by run token' : `Spend by ${shown.groupBy}`} data-group-by={shown.groupBy}>
            <thead>
              <tr>
                <th scope="col">{shown.groupBy === 'token' ? 'Run token' : shown.groupBy}</th>
                <th scope="col" class="num">
                  Requests
                </th>
                <th scope="col" class="num">
                  Errors
                </th>
                <th scope="col" class="num">
                  Cost
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.rows.length === 0 && (
                <tr>
                  <td colSpan={4} class="empty">
                    No requests in this range.
                  </td>
                </tr>
              )}
              {shown.rows.map((r) => (
                <tr key={r.value ?? ''} data-group={r.value ?? ''}>
                  <th scope="row">
                    <GroupLabel groupBy={shown.groupBy} value={r.value} name={r.value ? shown.names.get(r.value) : undefined} />
                  </th>
                  <td class="num" data-col="requests">
                    {fmtInt(r.requests)}
                  </td>
                  <td class="num">{fmtInt(r.errors)}</td>
                  <td class="num" data-col="cost">
                    {fmtCost(r.cost)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function GroupLabel({ groupBy, value, name }: { groupBy: string; value: string | null; name?: string }) {
  if (value === null) return <span class="muted">{groupBy === 'token' ? 'no run token' : 'without this key'}</span>;
  if (groupBy !== 'token') return <code>{value}</code>;
  if (name) {
    return (
      <span title={value}>
        {name} <code class="muted">{value}</code>
      </span>
    );
  }
  return (
    <span>
      <code>{value}</code> <span class="muted">(revoked)</span>
    </span>
  );
}
