// A stored request or response body, pretty-printed (JSON indented; a stream as its assembled
// reply text, or split into events) and always rendered as text; downloadable as a text/plain
// attachment.

import { useMemo, useState } from 'preact/hooks';
import { fmtBytes } from '../format';
import { assembleStream, parseSse, type Assembled, type SseEvent } from '../stream';

interface Props {
  title: string;
  body: { text: string; contentType: string } | null | undefined;
  complete?: boolean;
  filename: string;
}

function prettyJson(text: string): string | null {
  const t = text.trim();
  if (!t.startsWith('{') && !t.startsWith('[')) return null;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return null;
  }
}

function looksLikeSse(text: string, contentType: string): boolean {
  return contentType.includes('event-stream') || /^(data|event):/m.test(text.slice(0, 200));
}

type Shape =
  | { kind: 'json'; text: string }
  | { kind: 'sse'; events: SseEvent[]; reply: Assembled | null }
  | { kind: 'text'; text: string };

/** How a body is shown: `pretty` (JSON indented, plain text), and for streams `reply` or `events`. */
type View = 'pretty' | 'reply' | 'events' | 'raw';

function shape(text: string, contentType: string): Shape {
  if (looksLikeSse(text, contentType)) {
    const events = parseSse(text);
    if (events.length) return { kind: 'sse', events, reply: assembleStream(events) };
  }
  const json = prettyJson(text);
  if (json !== null) return { kind: 'json', text: json };
  return { kind: 'text', text };
}

export function download(text: string, filename: string): void {
  // text/plain whatever the body was: a download, never rendered.
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function BodyView({ title, body, complete, filename }: Props) {
  const [chosen, setChosen] = useState<View | null>(null);
  const shaped = useMemo(() => (body ? shape(body.text, body.contentType) : null), [body]);
  const id = `body-${title.toLowerCase().replace(/\W+/g, '-')}`;
  // A stream opens on its reply text when it has one, else on its events.
  const views: [View, string][] =
    shaped?.kind === 'sse'
      ? [...(shaped.reply ? ([['reply', 'Reply text']] as [View, string][]) : []), ['events', 'Events'], ['raw', 'Raw']]
      : [
          ['pretty', 'Pretty'],
          ['raw', 'Raw'],
        ];
  const view = chosen && views.some(([v]) => v === chosen) ? chosen : views[0][0];
  return (
    <section class="card body-view" aria-labelledby={id} data-body={title.toLowerCase()}>
      <div class="body-head">
        <h2 id={id}>{title}</h2>
        {body && (
          <span class="muted">
            {body.contentType || 'no content type'} · {fmtBytes(new Blob([body.text]).size)}
            {shaped?.kind === 'sse' ? ` · ${shaped.events.length} events` : ''}
          </span>
        )}
        {body && (
          <div class="body-actions">
            <div class="segmented" role="group" aria-label={`${title} view`}>
              {views.map(([v, label]) => (
                <button key={v} type="button" class="btn btn-small" aria-pressed={view === v} onClick={() => setChosen(v)}>
                  {label}
                </button>
              ))}
            </div>
            <button type="button" class="btn btn-small" onClick={() => download(body.text, filename)}>
              Download
            </button>
          </div>
        )}
      </div>
      {complete === false && <p class="notice notice-info">Stored cut at the body size limit; the full body was forwarded.</p>}
      {body === undefined && <p class="muted">Loading…</p>}
      {body === null && <p class="muted">Not stored (logging of payloads was off for this request, or nothing was sent).</p>}
      {body && shaped && view === 'raw' && (
        <pre class="code">
          <code>{body.text}</code>
        </pre>
      )}
      {body && shaped && view === 'pretty' && shaped.kind !== 'sse' && (
        <pre class="code">
          <code>{shaped.text}</code>
        </pre>
      )}
      {body && shaped?.kind === 'sse' && view === 'reply' && shaped.reply && (
        <div class="stream-reply">
          <p class="muted">
            Assembled from {shaped.events.length} events ({shaped.reply.format}).
          </p>
          <pre class="code">
            <code>{shaped.reply.text}</code>
          </pre>
        </div>
      )}
      {body && shaped?.kind === 'sse' && view === 'events' && (
        <ol class="sse-events">
          {shaped.events.map((ev, i) => (
            <li key={i}>
              <span class="sse-name">{ev.event ?? 'message'}</span>
              {ev.id && <span class="muted"> id {ev.id}</span>}
              <pre class="code">
                <code>{prettyJson(ev.data) ?? ev.data}</code>
              </pre>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
