import { useState } from 'preact/hooks';
import { call, enc, get, rawBody } from '../api';
import { BodyView } from '../components/BodyView';
import { ThumbDown, ThumbUp } from '../components/Icons';
import { Link } from '../components/Link';
import { Notice } from '../components/Notice';
import { fmtBytes, fmtCost, fmtInt, fmtMs, fmtTime } from '../format';
import { useResource } from '../hooks';
import { DEFAULT_PARAMS, logsPath } from '../logs';
import { getAccount } from '../session';
import type { Gateway, LogRow } from '../types';
import { metadataEntries } from '../types';
import { LogDlp } from './LogDlp';
import { AttemptMark, KindMark, StatusBadge } from './Logs';

/** The rows of one event the detail lists: a universal request's steps and their retries. */
const MAX_EVENT_ROWS = 50;

export function LogDetail({ gateway, logId }: { gateway: Gateway; logId: string }) {
  const account = getAccount();
  const base = `/accounts/${enc(account)}/ai-gateway/gateways/${enc(gateway.id)}/logs/${enc(logId)}`;
  const row = useResource(() => get<LogRow>(base), [base]);
  const bodies = useResource(async () => {
    const [request, response] = await Promise.all([rawBody(`${base}/request`), rawBody(`${base}/response`)]);
    return { request, response };
  }, [base]);
  const eventId = row.data?.event_id ?? null;
  const siblings = useResource(
    async () =>
      eventId
        ? call<LogRow[]>(
            'GET',
            logsPath(account, gateway.id, {
              ...DEFAULT_PARAMS,
              perPage: MAX_EVENT_ROWS,
              direction: 'asc',
              filters: [{ key: 'event_id', operator: 'eq', value: eventId }],
            }),
          )
        : null,
    [account, gateway.id, eventId],
  );
  // The list's view (filters, range, page) travels along, so "All logs" returns to it.
  const listHref = `/gateways/${enc(gateway.id)}/logs${location.search}`;
  const [feedback, setFeedback] = useState<number | null | undefined>(undefined);
  const [feedbackError, setFeedbackError] = useState('');

  const r = row.data;
  const current = feedback === undefined ? r?.feedback ?? null : feedback;

  const sendFeedback = async (value: 1 | -1) => {
    const next = current === value ? null : value;
    setFeedbackError('');
    try {
      await call('PATCH', base, { feedback: next });
      setFeedback(next);
    } catch (e) {
      setFeedbackError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <div class="stack">
      <p>
        <Link href={listHref}>← All logs</Link>
      </p>
      <Notice kind="error">{row.error?.message}</Notice>
      {r && (
        <>
          <section class="card" aria-labelledby="log-title">
            <div class="log-head">
              <h2 id="log-title">
                <StatusBadge row={r} /> <AttemptMark row={r} /> <KindMark row={r} /> {r.method} <code>{r.path}</code>
              </h2>
              <div class="feedback" role="group" aria-label="Feedback">
                <button
                  type="button"
                  class="btn btn-small"
                  aria-pressed={current === 1}
                  onClick={() => sendFeedback(1)}
                  title="Good response"
                >
                  <ThumbUp /> Good
                </button>
                <button
                  type="button"
                  class="btn btn-small"
                  aria-pressed={current === -1}
                  onClick={() => sendFeedback(-1)}
                  title="Bad response"
                >
                  <ThumbDown /> Bad
                </button>
              </div>
            </div>
            <Notice kind="error">{feedbackError}</Notice>
            {r.error && <Notice kind="error">Gateway: {r.error}</Notice>}
            <dl class="facts facts-wide">
              <dt>Log id</dt>
              <dd>
                <code>{r.id}</code>
              </dd>
              <dt>Time</dt>
              <dd>{fmtTime(r.created_at)}</dd>
              <dt>Provider</dt>
              <dd>{r.provider}</dd>
              <dt>Model</dt>
              <dd class="break">{r.model || '—'}</dd>
              <dt>Status</dt>
              <dd>
                {r.status_code ?? '—'} {r.success ? '(success)' : '(failed)'}
              </dd>
              <dt>Cache</dt>
              <dd>{r.cached ? 'HIT' : 'MISS'}</dd>
              <dt>Tokens in / out</dt>
              <dd>
                {fmtInt(r.tokens_in)} / {fmtInt(r.tokens_out)}
                {r.cache_read_tokens || r.cache_write_tokens
                  ? ` (cache read ${fmtInt(r.cache_read_tokens)}, write ${fmtInt(r.cache_write_tokens)})`
                  : ''}
              </dd>
              <dt>Cost</dt>
              <dd>
                {fmtCost(r.cost)}
                {r.custom_cost ? ' (custom)' : ''}
              </dd>
              <dt>Attempt</dt>
              <dd>{r.attempts ?? 1}</dd>
              {r.event_id && (
                <>
                  <dt>Event id</dt>
                  <dd class="break">{r.event_id}</dd>
                </>
              )}
              {r.trace_id && (
                <>
                  <dt>Trace</dt>
                  <dd class="break">
                    {r.trace_url ? (
                      <a href={r.trace_url} target="_blank" rel="noopener noreferrer" data-testid="trace-link">
                        <code>{r.trace_id}</code>
                      </a>
                    ) : (
                      <code>{r.trace_id}</code>
                    )}
                  </dd>
                </>
              )}
              {r.step !== null && (
                <>
                  <dt>Step</dt>
                  <dd>{r.step}</dd>
                </>
              )}
              {r.score !== null && (
                <>
                  <dt>Score</dt>
                  <dd>{r.score}</dd>
                </>
              )}
              <dt>Client</dt>
              <dd class="break">
                {r.client_ip ?? '—'}
                {r.user_agent ? ` · ${r.user_agent}` : ''}
              </dd>
              <dt>Sizes</dt>
              <dd>
                request {fmtBytes(r.request_size)} ({r.request_content_type ?? '—'}), response {fmtBytes(r.response_size)} (
                {r.response_content_type ?? '—'})
              </dd>
            </dl>
          </section>

          <LogDlp text={r.dlp} />

          {siblings.data && siblings.data.result.length > 1 && (
            <EventAttempts rows={siblings.data.result} total={siblings.data.result_info?.total_count} current={r.id} gateway={gateway.id} />
          )}

          <div class="detail-grid">
            <section class="card" aria-labelledby="timings-title">
              <h2 id="timings-title">Timings</h2>
              <dl class="timings">
                <dt>Time to first byte</dt>
                <dd>
                  <progress max={r.duration ?? 0} value={r.ttfb ?? 0} aria-label="Time to first byte" />
                  <span>{fmtMs(r.ttfb)}</span>
                </dd>
                <dt>Total duration</dt>
                <dd>
                  <progress max={r.duration ?? 0} value={r.duration ?? 0} aria-label="Total duration" />
                  <span>{fmtMs(r.duration)}</span>
                </dd>
              </dl>
            </section>
            <section class="card" aria-labelledby="meta-title">
              <h2 id="meta-title">Metadata</h2>
              <Metadata text={r.metadata} />
            </section>
          </div>

          <BodyView
            title="Request"
            body={bodies.error ? null : bodies.data?.request}
            complete={r.request_head_complete}
            filename={`${r.id}-request.txt`}
          />
          <BodyView
            title="Response"
            body={bodies.error ? null : bodies.data?.response}
            complete={r.response_head_complete}
            filename={`${r.id}-response.txt`}
          />
        </>
      )}
    </div>
  );
}

/** Every row of the same event, oldest first: which steps and attempts ran, and how each ended. */
function EventAttempts({ rows, total, current, gateway }: { rows: LogRow[]; total?: number; current: string; gateway: string }) {
  return (
    <section class="card" aria-labelledby="attempts-title" data-event-rows={rows.length}>
      <h2 id="attempts-title">Attempts of this request</h2>
      <p class="muted">
        Retries and fallback steps share one event id; each attempt is its own row.
        {total !== undefined && total > rows.length ? ` The first ${rows.length} of ${total} are listed.` : ''}
      </p>
      <div class="table-wrap">
        <table class="table" aria-label="Attempts of this request">
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">Attempt</th>
              <th scope="col">Status</th>
              <th scope="col">Provider</th>
              <th scope="col">Model</th>
              <th scope="col">Time</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((a) => (
              <tr key={a.id} data-attempt-id={a.id} aria-current={a.id === current ? 'true' : undefined} class={a.id === current ? 'row-current' : undefined}>
                <td>{a.step ?? '—'}</td>
                <td>{a.attempts ?? 1}</td>
                <td>
                  <StatusBadge row={a} />
                </td>
                <td>{a.provider}</td>
                <td class="break">{a.model || '—'}</td>
                <td class="nowrap">
                  {a.id === current ? (
                    <span>{fmtTime(a.created_at)} (this one)</span>
                  ) : (
                    <Link href={`/gateways/${enc(gateway)}/logs/${enc(a.id)}${location.search}`}>{fmtTime(a.created_at)}</Link>
                  )}
                </td>
                <td class="break">{a.error ?? (a.success ? 'answered' : 'failed')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Metadata({ text }: { text: string | null }) {
  const entries = metadataEntries(text);
  if (entries.length === 0) return <p class="muted">None.</p>;
  return (
    <table class="table kv">
      <tbody>
        {entries.map(([k, v], i) => (
          <tr key={i}>
            <th scope="row">{k || '(raw)'}</th>
            <td class="break">{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
