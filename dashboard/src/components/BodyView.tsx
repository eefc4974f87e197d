// A stored request or response body, pretty-printed (JSON indented, SSE split into events)
// and always rendered as text; downloadable as a text/plain attachment.

import { useMemo, useState } from 'preact/hooks';
import { fmtBytes } from '../format';

interface Props {
  title: string;
  body: { text: string; contentType: string } | null | undefined;
  complete?: boolean;
  filename: string;
}

interface SseEvent {
  event?: string;
  id?: string;
  data: string;
}

export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.replace(/\r\n?/g, '\n').split(/\n\n+/)) {
    const ev: SseEvent = { data: '' };
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') data.push(value);
      else if (field === 'event') ev.event = value;
      else if (field === 'id') ev.id = value;
    }
    ev.data = data.join('\n');
    if (data.length || ev.event) events.push(ev);
  }
  return events;
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

type Shape = { kind: 'json'; text: string } | { kind: 'sse'; events: SseEvent[] } | { kind: 'text'; text: string };

function shape(text: string, contentType: string): Shape {
  if (looksLikeSse(text, contentType)) {
    const events = parseSse(text);
    if (events.length) return { kind: 'sse', events };
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
  const [raw, setRaw] = useState(false);
  const shaped = useMemo(() => (body ? shape(body.text, body.contentType) : null), [body]);
  const id = `body-${title.toLowerCase().replace(/\W+/g, '-')}`;
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
              <button type="button" class="btn btn-small" aria-pressed={!raw} onClick={() => setRaw(false)}>
                Pretty
              </button>
              <button type="button" class="btn btn-small" aria-pressed={raw} onClick={() => setRaw(true)}>
                Raw
              </button>
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
      {body && shaped && (raw || shaped.kind !== 'sse') && (
        <pre class="code">
          <code>{raw ? body.text : shaped.kind === 'sse' ? body.text : shaped.text}</code>
        </pre>
      )}
      {body && shaped && !raw && shaped.kind === 'sse' && (
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
