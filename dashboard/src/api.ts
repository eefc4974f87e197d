// The management API client: every call carries the admin token as a bearer token (no cookies),
// and v4 errors become ApiError with the messages keyed by the field they name.

import { clearToken, getToken } from './session';

export const BASE = '/client/v4';

export interface V4Message {
  code: number;
  message: string;
  /** Where the error is, e.g. `["body", "budget"]` (the field's name second). */
  path?: string[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly errors: V4Message[];

  constructor(status: number, errors: V4Message[]) {
    super(errors.map((e) => e.message).join('; ') || `HTTP ${status}`);
    this.status = status;
    this.errors = errors;
  }

  /**
   * Errors by the field they name: the error's `path` (`["body", field]`) when it has one, else
   * a `field: message` prefix; errors naming no known field go under `''`.
   */
  byField(known: readonly string[]): Record<string, string> {
    const out: Record<string, string> = {};
    for (const { message, path } of this.errors) {
      const colon = message.indexOf(': ');
      const prefix = colon > 0 ? message.slice(0, colon) : '';
      const field = path && path.length === 2 && path[0] === 'body' ? path[1] : prefix;
      const key = known.includes(field) ? field : '';
      // The message repeats the field's name; next to the field it is said once.
      const text = key && prefix === key ? message.slice(colon + 2) : message;
      out[key] = out[key] ? `${out[key]}; ${text}` : text;
    }
    return out;
  }
}

export interface Page<T> {
  result: T;
  result_info?: ResultInfo;
}

export interface ResultInfo {
  page: number;
  per_page: number;
  count: number;
  total_count: number;
  total_pages: number;
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called when the API refuses the token (it was revoked or the server restarted with another). */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

function headers(extra?: Record<string, string>): Headers {
  const h = new Headers(extra);
  const token = getToken();
  if (token) h.set('Authorization', `Bearer ${token}`);
  return h;
}

async function send(method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  const init: RequestInit = {
    method,
    headers: headers(body === undefined ? undefined : { 'Content-Type': 'application/json' }),
    credentials: 'omit',
    cache: 'no-store',
  };
  if (token) (init.headers as Headers).set('Authorization', `Bearer ${token}`);
  if (body !== undefined) init.body = JSON.stringify(body);
  let response: Response;
  try {
    response = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, [{ code: 0, message: 'The gateway cannot be reached' }]);
  }
  if (response.status === 401 && !token) {
    clearToken();
    unauthorizedListeners.forEach((l) => l());
  }
  return response;
}

async function envelope<T>(response: Response): Promise<Page<T>> {
  let json: { success?: boolean; errors?: V4Message[]; result?: T; result_info?: ResultInfo };
  try {
    json = await response.json();
  } catch {
    throw new ApiError(response.status, [{ code: 0, message: `HTTP ${response.status}: not a JSON answer` }]);
  }
  if (!response.ok || json.success === false) {
    throw new ApiError(response.status, json.errors ?? []);
  }
  return { result: json.result as T, result_info: json.result_info };
}

/** A management call; `path` is below `/client/v4`. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<Page<T>> {
  return envelope<T>(await send(method, path, body));
}

export async function get<T>(path: string): Promise<T> {
  return (await call<T>('GET', path)).result;
}

/** Checks a token without storing it or signalling a logout on 401. */
export async function checkToken(token: string, account: string): Promise<void> {
  const response = await send('GET', `/accounts/${enc(account)}/ai-gateway/gateways?per_page=1`, undefined, token);
  await envelope(response);
}

/** A stored body: raw text and its content type; null when none was stored (404). */
export async function rawBody(path: string): Promise<{ text: string; contentType: string } | null> {
  const response = await send('GET', path);
  if (response.status === 404) return null;
  if (!response.ok) await envelope(response);
  return {
    text: await response.text(),
    contentType: response.headers.get('content-type') ?? '',
  };
}

export const enc = encodeURIComponent;

/** Query string from pairs, skipping empty values. */
export function query(pairs: [string, string | number | undefined | null][]): string {
  const p = new URLSearchParams();
  for (const [k, v] of pairs) {
    if (v !== undefined && v !== null && v !== '') p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}
