// A stored event stream (SSE) split into events, and the reply text assembled from the event
// shapes of the providers the gateway streams: OpenAI chat chunks and Responses events,
// Anthropic message events and Gemini candidates. Unknown shapes assemble to nothing.

export interface SseEvent {
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

export type StreamFormat = 'OpenAI chat chunks' | 'OpenAI Responses events' | 'Anthropic message events' | 'Gemini candidates';

export interface Assembled {
  format: StreamFormat;
  text: string;
}

type Json = Record<string, unknown>;

function object(v: unknown): Json | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
}

function array(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The text one event contributes, and the shape it was read as; null for other events. */
function piece(data: Json): [StreamFormat, string] | null {
  // OpenAI chat: choices[].delta.content (the first choice: what an SDK prints).
  if (data.object === 'chat.completion.chunk' || Array.isArray(data.choices)) {
    const first = array(data.choices).map(object).find((c) => c && (c.index ?? 0) === 0);
    const content = object(first?.delta)?.content;
    return ['OpenAI chat chunks', typeof content === 'string' ? content : ''];
  }
  // Anthropic: content_block_delta events carrying text_delta.
  if (typeof data.type === 'string' && (data.type.startsWith('message_') || data.type.startsWith('content_block_') || data.type === 'ping')) {
    const delta = object(data.delta);
    return ['Anthropic message events', data.type === 'content_block_delta' && delta?.type === 'text_delta' && typeof delta.text === 'string' ? delta.text : ''];
  }
  // OpenAI Responses: response.output_text.delta events.
  if (typeof data.type === 'string' && data.type.startsWith('response.')) {
    return ['OpenAI Responses events', data.type === 'response.output_text.delta' && typeof data.delta === 'string' ? data.delta : ''];
  }
  // Gemini: candidates[0].content.parts[].text (thought parts left out).
  if (Array.isArray(data.candidates)) {
    const parts = array(object(object(data.candidates[0])?.content)?.parts);
    const text = parts
      .map(object)
      .filter((p) => p && p.thought !== true && typeof p.text === 'string')
      .map((p) => p?.text as string)
      .join('');
    return ['Gemini candidates', text];
  }
  if (object(data.usageMetadata)) return ['Gemini candidates', ''];
  return null;
}

/**
 * The reply text of a stream, when every JSON event has one known shape and some text came out
 * of it; null otherwise (then the events are shown as they are).
 */
export function assembleStream(events: SseEvent[]): Assembled | null {
  let format: StreamFormat | null = null;
  let text = '';
  for (const ev of events) {
    const raw = ev.data.trim();
    if (raw === '' || raw === '[DONE]') continue;
    let data: Json | null;
    try {
      data = object(JSON.parse(raw));
    } catch {
      return null;
    }
    const found = data && piece(data);
    // An error event (any provider) is not part of the reply; it stays visible in the events.
    if (!found) {
      if (data && (data.error !== undefined || data.type === 'error')) continue;
      return null;
    }
    if (format && found[0] !== format) return null;
    format = found[0];
    text += found[1];
  }
  return format && text !== '' ? { format, text } : null;
}
