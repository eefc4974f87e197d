// A gateway's dynamic routes (docs/routing.md): the list, and for the chosen route its live
// version drawn as a graph, a JSON editor whose refusals (each naming its element) show next to
// it, the versions and deployments with one-click deploy (a rollback is the deployment of an
// older version), and how its traffic was actually split over the last 24 hours.

import { useState } from 'preact/hooks';
import { type Window, fetchAnalytics, resolveWindow } from '../analytics';
import { ApiError, BASE, call, enc } from '../api';
import { RouteGraph } from '../components/RouteGraph';
import { Notice } from '../components/Notice';
import { fmtInt, fmtPct, fmtTime } from '../format';
import { useDraft, useResource } from '../hooks';
import { replaceSearch } from '../router';
import { type Route, type RouteDeployment, type RouteElement, type RouteVersion, models } from '../routes';
import { getAccount, getToken } from '../session';
import type { Gateway } from '../types';

/** What a new route starts from: one model, answered or ended. */
const TEMPLATE: RouteElement[] = [
  { id: 'start', type: 'start', outputs: { next: { elementId: 'main' } } },
  {
    id: 'main',
    type: 'model',
    properties: { provider: 'openai', model: 'gpt-4o-mini', timeout: 30000, retries: 0 },
    outputs: { success: { elementId: 'end' } },
  },
  { id: 'end', type: 'end', outputs: {} },
];

// Version ids are UUIDv7: their start is the time they were saved, alike for versions saved
// together; their end is random, so that is the part shown.
const short = (id: string) => id.slice(-8);

const pretty = (elements: unknown) => JSON.stringify(elements, null, 2);

/** The last 24 hours, ending when asked (so a refresh counts the calls made since). */
const last24h = () => resolveWindow('24h', '', '') as Window;

/**
 * A GET whose answer is Cloudflare's list shape `{success, data}` rather than the v4 envelope's
 * `result` (the routes API's lists).
 */
async function getData<T>(path: string): Promise<T> {
  const token = getToken();
  const response = await fetch(BASE + path, {
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    credentials: 'omit',
    cache: 'no-store',
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok || json.success === false) throw new ApiError(response.status, json.errors ?? []);
  return json.data as T;
}

/** The editor's text as elements, or why it is not a list of elements (said before anything is sent). */
function parseElements(text: string): RouteElement[] | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return `Not JSON: ${e instanceof Error ? e.message : String(e)}`;
  }
  if (!Array.isArray(value)) return 'The elements must be a JSON array of elements.';
  return value as RouteElement[];
}

/** The element ids a refusal's messages name (`element "plan": …`). */
function named(messages: string[]): string[] {
  const ids: string[] = [];
  for (const m of messages) for (const hit of m.matchAll(/element "([^"]+)"/g)) ids.push(hit[1]);
  return ids;
}

function messagesOf(err: unknown): string[] {
  if (err instanceof ApiError) return err.errors.length ? err.errors.map((e) => e.message) : [err.message];
  return [err instanceof Error ? err.message : String(err)];
}

export function RoutesView({ gateway, search }: { gateway: Gateway; search: URLSearchParams }) {
  const account = getAccount();
  const path = `/accounts/${enc(account)}/ai-gateway/gateways/${enc(gateway.id)}/routes`;
  const list = useResource(() => getData<{ routes: Route[] }>(`${path}?per_page=100`), [path]);
  const calls = useResource(
    () => fetchAnalytics(account, last24h(), { gatewayId: gateway.id }, 'route'),
    [account, gateway.id],
  );
  const [selected, setSelected] = useState(search.get('route') ?? '');
  const routes = list.data?.routes ?? [];
  const route = routes.find((r) => r.id === selected);

  const select = (id: string) => {
    setSelected(id);
    replaceSearch({ route: id });
  };

  const callsOf = (name: string) =>
    (calls.data?.series ?? [])
      .filter((s) => s.group?.route === name)
      .flatMap((s) => s.points)
      .reduce((n, p) => n + p.requests, 0);

  return (
    <div class="routes">
      <p class="muted">
        A route decides which model serves a request sent with <code>model: "dynamic/&lt;name&gt;"</code> to the unified
        endpoint (chat completions, Responses, Messages) or in a universal step. Saving a version changes nothing live;
        deploying it does, at once.
      </p>
      <Notice kind="error">{list.error?.message}</Notice>
      {list.data && (
        <div class="table-wrap">
          <table class="table" aria-label="Routes">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Live version</th>
                <th scope="col">Deployed</th>
                <th scope="col" class="num">
                  Calls (24 h)
                </th>
              </tr>
            </thead>
            <tbody>
              {routes.length === 0 && (
                <tr>
                  <td colSpan={4} class="empty">
                    No routes yet: create one below.
                  </td>
                </tr>
              )}
              {routes.map((r) => (
                <tr key={r.id} data-route={r.name} class={r.id === selected ? 'route-selected' : undefined}>
                  <th scope="row">
                    <button type="button" class="link-button" onClick={() => select(r.id)}>
                      {r.name}
                    </button>
                  </th>
                  <td>
                    <code>{short(r.version.version_id)}</code>
                  </td>
                  <td>{fmtTime(r.deployment.created_at)}</td>
                  <td class="num">{fmtInt(callsOf(r.name))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {route ? (
        <RouteDetail
          key={route.id}
          route={route}
          path={`${path}/${enc(route.id)}`}
          gatewayId={gateway.id}
          onChanged={async () => {
            await list.reload();
            await calls.reload();
          }}
        />
      ) : (
        <CreateRoute path={path} onCreated={async (id) => {
          await list.reload();
          select(id);
        }} />
      )}
      {route && (
        <p>
          <button type="button" class="btn btn-small" onClick={() => select('')}>
            New route
          </button>
        </p>
      )}
    </div>
  );
}

/** The elements editor: a JSON textarea, its parse error at once, the API's refusal on save. */
function ElementsEditor({ text, onInput, errors }: { text: string; onInput: (text: string) => void; errors: string[] }) {
  const parsed = parseElements(text);
  const shown = typeof parsed === 'string' ? [parsed, ...errors] : errors;
  return (
    <div class={shown.length ? 'field field-invalid' : 'field'}>
      <label for="route-elements">Elements (JSON)</label>
      <textarea
        id="route-elements"
        class="route-editor"
        rows={18}
        spellcheck={false}
        value={text}
        aria-invalid={shown.length ? true : undefined}
        aria-describedby={shown.length ? 'route-elements-error' : 'route-elements-hint'}
        onInput={(e) => onInput(e.currentTarget.value)}
      />
      <small class="hint" id="route-elements-hint">
        Each element is <code>{'{id, type, properties, outputs}'}</code>, outputs <code>{'{"name": {"elementId": "…"}}'}</code>{' '}
        (docs/routing.md).
      </small>
      {shown.length > 0 && (
        <ul class="field-error route-errors" id="route-elements-error" role="alert">
          {shown.map((m, i) => (
            <li key={i}>{m}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function CreateRoute({ path, onCreated }: { path: string; onCreated: (id: string) => Promise<void> }) {
  const [name, setName] = useState('');
  const [text, setText] = useState(pretty(TEMPLATE));
  const [errors, setErrors] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const parsed = parseElements(text);

  const create = async (e: Event) => {
    e.preventDefault();
    if (typeof parsed === 'string') return;
    setBusy(true);
    setErrors([]);
    try {
      const res = await call<Route>('POST', path, { name: name.trim(), elements: parsed });
      await onCreated(res.result.id);
    } catch (err) {
      setErrors(messagesOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={create} noValidate aria-label="Create a route">
      <h2>New route</h2>
      <div class="field">
        <label for="route-name">Name</label>
        <input id="route-name" name="name" autocomplete="off" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <small class="hint">Called as <code>dynamic/{name || '<name>'}</code>; its first version is deployed at once.</small>
      </div>
      {typeof parsed !== 'string' && <RouteGraph elements={parsed} label="Graph of the new route" marked={named(errors)} />}
      <ElementsEditor
        text={text}
        onInput={(t) => {
          setText(t);
          setErrors([]);
        }}
        errors={errors}
      />
      <button type="submit" class="btn btn-primary" disabled={busy || typeof parsed === 'string'}>
        Create route
      </button>
    </form>
  );
}

interface DetailProps {
  route: Route;
  path: string;
  gatewayId: string;
  onChanged: () => Promise<void>;
}

function RouteDetail({ route, path, gatewayId, onChanged }: DetailProps) {
  const versions = useResource(() => getData<{ versions: RouteVersion[] }>(`${path}/versions?per_page=100`), [path, route.version.version_id]);
  const deployments = useResource(
    () => getData<{ deployments: RouteDeployment[] }>(`${path}/deployments?per_page=100`),
    [path, route.deployment.deployment_id],
  );
  // A deployment (here or elsewhere) changes the live version: the editor starts from it again.
  const [text, setText] = useDraft(() => pretty(route.elements), [route.version.version_id]);
  const [comment, setComment] = useState('');
  const [errors, setErrors] = useState<string[]>([]);
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);
  const parsed = parseElements(text);


  const save = async () => {
    if (typeof parsed === 'string') return;
    setBusy(true);
    setErrors([]);
    setMessage('');
    try {
      const res = await call<{ version_id: string }>('POST', `${path}/versions`, {
        elements: parsed,
        ...(comment.trim() ? { comment: comment.trim() } : {}),
      });
      setMessage(`Version ${short(res.result.version_id)} saved; deploy it to make it live.`);
      setComment('');
      await versions.reload();
    } catch (err) {
      setErrors(messagesOf(err));
    } finally {
      setBusy(false);
    }
  };

  const deploy = async (version: RouteVersion, rollback: boolean) => {
    setBusy(true);
    setErrors([]);
    setMessage('');
    try {
      await call('POST', `${path}/deployments`, {
        version_id: version.version_id,
        ...(rollback ? { comment: 'rollback' } : {}),
      });
      setMessage(`${rollback ? 'Rolled back to' : 'Deployed'} version ${short(version.version_id)}.`);
      await onChanged();
    } catch (err) {
      setErrors(messagesOf(err));
    } finally {
      setBusy(false);
    }
  };

  const list = versions.data?.versions ?? [];
  const liveIndex = list.findIndex((v) => v.active === 'true');

  return (
    <section class="card route-detail" aria-labelledby="route-title" data-route-id={route.id}>
      <h2 id="route-title">
        dynamic/{route.name} <span class="badge badge-gray">version {short(route.version.version_id)}</span>
      </h2>
      <RouteGraph elements={route.elements} label={`Graph of route ${route.name}, live version`} />
      <Split route={route} gatewayId={gatewayId} versions={versions.data?.versions ?? []} />

      <h3>Edit</h3>
      <ElementsEditor
        text={text}
        onInput={(t) => {
          setText(t);
          setErrors([]);
        }}
        errors={errors}
      />
      {typeof parsed !== 'string' && named(errors).length > 0 && (
        <RouteGraph elements={parsed} label="Graph of the refused version" marked={named(errors)} />
      )}
      <div class="field">
        <label for="route-comment">Comment</label>
        <input id="route-comment" autocomplete="off" value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
      </div>
      <div class="row-actions">
        <button type="button" class="btn btn-primary" disabled={busy || typeof parsed === 'string'} onClick={() => void save()}>
          Save version
        </button>
      </div>
      <Notice kind="ok">{message}</Notice>

      <h3>Versions</h3>
      <Notice kind="error">{versions.error?.message}</Notice>
      <div class="table-wrap">
        <table class="table" aria-label="Versions">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Saved</th>
              <th scope="col">Comment</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list
              .map((v, i) => ({ v, i }))
              .reverse()
              .map(({ v, i }) => (
                <tr key={v.version_id} data-version-id={v.version_id}>
                  <th scope="row">
                    <code>{short(v.version_id)}</code> {v.active === 'true' && <span class="badge badge-status-2xx">live</span>}
                  </th>
                  <td>{fmtTime(v.created_at)}</td>
                  <td>{v.comment ?? ''}</td>
                  <td class="actions">
                    {v.active !== 'true' && (
                      <button
                        type="button"
                        class="btn btn-small"
                        disabled={busy}
                        onClick={() => void deploy(v, i < liveIndex)}
                        aria-label={`${i < liveIndex ? 'Roll back to' : 'Deploy'} version ${short(v.version_id)}`}
                      >
                        {i < liveIndex ? 'Roll back' : 'Deploy'}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
      </div>

      <h3>Deployments</h3>
      <Notice kind="error">{deployments.error?.message}</Notice>
      <ol class="route-deployments" aria-label="Deployments">
        {(deployments.data?.deployments ?? [])
          .slice()
          .reverse()
          .map((d) => (
            <li key={d.deployment_id} data-version-id={d.version_id}>
              {fmtTime(d.created_at)}: version <code>{short(d.version_id)}</code>
              {d.comment ? ` (${d.comment})` : ''}
            </li>
          ))}
      </ol>
    </section>
  );
}

/** The elements of every version (a version whose data does not parse adds none). */
function allElements(route: Route, versions: RouteVersion[]): RouteElement[] {
  const out = [...route.elements];
  for (const v of versions) {
    try {
      const elements: unknown = JSON.parse(v.data);
      if (Array.isArray(elements)) out.push(...(elements as RouteElement[]));
    } catch {
      // Not the API's shape: nothing to count from it.
    }
  }
  return out;
}

/**
 * The traffic split actually observed: for each model of any of the route's versions, the
 * route's calls to it over the last 24 hours (analytics grouped by route, filtered by the model),
 * with their share. Failed calls (a model that fell back) count too, as they were made.
 */
function Split({ route, gatewayId, versions }: { route: Route; gatewayId: string; versions: RouteVersion[] }) {
  const account = getAccount();
  const targets = models(allElements(route, versions));
  const key = targets.map((t) => `${t.provider}/${t.model}`).join(',');
  const split = useResource(async () => {
    const counted = await Promise.all(
      targets.map(async (t) => {
        const a = await fetchAnalytics(account, last24h(), { gatewayId, provider: t.provider, model: t.model }, 'route');
        const points = a.series.filter((s) => s.group?.route === route.name).flatMap((s) => s.points);
        return {
          ...t,
          calls: points.reduce((n, p) => n + p.requests, 0),
          errors: points.reduce((n, p) => n + p.errors, 0),
        };
      }),
    );
    return counted;
  }, [account, gatewayId, route.name, key, route.version.version_id]);
  const total = (split.data ?? []).reduce((n, s) => n + s.calls, 0);
  return (
    <div class="route-split">
      <div class="row-actions">
        <h3>Traffic split observed (last 24 hours)</h3>
        <button type="button" class="btn btn-small" onClick={() => void split.reload()} disabled={split.loading}>
          Refresh
        </button>
      </div>
      <Notice kind="error">{split.error?.message}</Notice>
      {split.data && total === 0 && <p class="muted">No calls through this route in the last 24 hours.</p>}
      {split.data && total > 0 && (
        <table class="table" aria-label="Traffic split">
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col" class="num">
                Calls
              </th>
              <th scope="col" class="num">
                Failed
              </th>
              <th scope="col">Share</th>
            </tr>
          </thead>
          <tbody>
            {split.data.filter((s) => s.calls > 0).map((s) => (
              <tr key={`${s.provider}/${s.model}`} data-model={`${s.provider}/${s.model}`}>
                <th scope="row">
                  {s.provider}/{s.model}
                </th>
                <td class="num" data-calls>
                  {fmtInt(s.calls)}
                </td>
                <td class="num">{fmtInt(s.errors)}</td>
                <td>
                  <meter class="route-share" min={0} max={1} value={s.calls / total} aria-label={`${s.provider}/${s.model} share`} />{' '}
                  <span data-share>{fmtPct(s.calls / total)}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
