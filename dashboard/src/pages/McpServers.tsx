// A gateway's upstream MCP servers registered through the API (docs/mcp.md): list, add,
// turn on and off, remove. A server's credential is a stored provider key, chosen by id; its
// secret never reaches this page.

import { useState } from 'preact/hooks';
import { ApiError, call, enc, get } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Field, invalidBy } from '../components/Field';
import { Notice } from '../components/Notice';
import { fmtCost, fmtTime } from '../format';
import { useResource } from '../hooks';
import { getAccount } from '../session';
import type { Gateway, McpServer, ProviderKey } from '../types';

const FIELDS = ['name', 'url', 'key', 'cost_per_call'] as const;

export function McpServersView({ gateway }: { gateway: Gateway }) {
  const account = getAccount();
  const base = `/accounts/${enc(account)}/ai-gateway/gateways/${enc(gateway.id)}`;
  const path = `${base}/mcp_servers`;
  const list = useResource(() => get<McpServer[]>(`${path}?per_page=100`), [path]);
  const keys = useResource(() => get<ProviderKey[]>(`${base}/provider_configs?per_page=100`), [base]);
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [key, setKey] = useState('');
  const [price, setPrice] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState('');
  const [removing, setRemoving] = useState<McpServer | null>(null);
  const [busy, setBusy] = useState(false);
  const endpoint = `${location.origin}/v1/${enc(account)}/${enc(gateway.id)}/mcp`;

  const add = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setMessage('');
    try {
      const body: Record<string, unknown> = { name: name.trim(), url: url.trim() };
      if (key) body.key = key;
      // Sent as typed (a number when it reads as one), so the API's message names a bad amount.
      if (price.trim()) body.cost_per_call = Number.isNaN(Number(price)) ? price.trim() : Number(price);
      const res = await call<McpServer>('POST', path, body);
      setName('');
      setUrl('');
      setKey('');
      setPrice('');
      setMessage(`MCP server ${res.result.name} added: its tools are ${res.result.name}__<tool>.`);
      await list.reload();
    } catch (err) {
      setErrors(err instanceof ApiError ? err.byField(FIELDS) : { '': String(err) });
    } finally {
      setBusy(false);
    }
  };

  const toggle = async (server: McpServer) => {
    setBusy(true);
    setMessage('');
    try {
      await call('PATCH', `${path}/${enc(server.id)}`, { enabled: !server.enabled });
      setMessage(`MCP server ${server.name} ${server.enabled ? 'turned off' : 'turned on'}.`);
      await list.reload();
    } catch (err) {
      setErrors({ '': err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    try {
      await call('DELETE', `${path}/${enc(removing.id)}`);
      setMessage(`MCP server ${removing.name} removed.`);
      setRemoving(null);
      await list.reload();
    } catch (err) {
      setErrors({ '': err instanceof Error ? err.message : String(err) });
      setRemoving(null);
    } finally {
      setBusy(false);
    }
  };

  const keyLabel = (id: string | null) => {
    if (!id) return '';
    const k = keys.data?.find((k) => k.id === id);
    return k ? `${k.provider_slug} / ${k.alias} (${k.secret_preview})` : id;
  };

  return (
    <div class="mcp-servers">
      <p class="muted">
        MCP clients connect to <code>{endpoint}</code> and see every server's tools, prompts and resources, named{' '}
        <code>{'{server}__{name}'}</code>. Servers of the configuration file (<code>[[mcp_servers]]</code>) are not listed here.
      </p>

      <form class="card inline-form" onSubmit={add} noValidate aria-label="Add an MCP server">
        <Field id="mcp-name" label="Name" error={errors.name} hint="a-z, 0-9 and '-'; it prefixes the server's tools.">
          <input
            id="mcp-name"
            name="name"
            autocomplete="off"
            value={name}
            {...invalidBy('mcp-name', true, errors.name)}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <Field id="mcp-url" label="URL" error={errors.url} hint="Its Streamable HTTP endpoint.">
          <input
            id="mcp-url"
            name="url"
            type="url"
            autocomplete="off"
            placeholder="https://example.com/mcp"
            value={url}
            {...invalidBy('mcp-url', true, errors.url)}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
        </Field>
        <Field id="mcp-key" label="Credential" error={errors.key} hint="A stored key, sent as a bearer token.">
          <select
            id="mcp-key"
            name="key"
            value={key}
            {...invalidBy('mcp-key', true, errors.key)}
            onChange={(e) => setKey(e.currentTarget.value)}
          >
            <option value="">None</option>
            {(keys.data ?? []).map((k) => (
              <option key={k.id} value={k.id}>
                {keyLabel(k.id)}
              </option>
            ))}
          </select>
        </Field>
        <Field id="mcp-price" label="Cost per call (USD)" error={errors.cost_per_call} hint="Optional: counted against budgets.">
          <input
            id="mcp-price"
            name="cost_per_call"
            inputMode="decimal"
            autocomplete="off"
            placeholder="free"
            value={price}
            {...invalidBy('mcp-price', true, errors.cost_per_call)}
            onInput={(e) => setPrice(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" class="btn btn-primary" disabled={busy}>
          Add server
        </button>
      </form>

      <Notice kind="ok">{message}</Notice>
      <Notice kind="error">{errors[''] ?? list.error?.message}</Notice>

      {list.data && (
        <div class="table-wrap">
          <table class="table" aria-label="MCP servers">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">URL</th>
                <th scope="col">Credential</th>
                <th scope="col" class="num">
                  Cost per call
                </th>
                <th scope="col">Enabled</th>
                <th scope="col">Added</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.length === 0 && (
                <tr>
                  <td colSpan={7} class="empty">
                    No MCP servers registered here.
                  </td>
                </tr>
              )}
              {list.data.map((s) => (
                <tr key={s.id} data-server-id={s.id}>
                  <th scope="row">{s.name}</th>
                  <td>
                    <code>{s.url}</code>
                  </td>
                  <td>{keyLabel(s.key)}</td>
                  <td class="num" data-cost-per-call>
                    {s.cost_per_call === null ? 'free' : fmtCost(s.cost_per_call)}
                  </td>
                  <td>
                    <span class={s.enabled ? 'badge badge-status-2xx' : 'badge'} data-enabled={String(s.enabled)}>
                      {s.enabled ? 'on' : 'off'}
                    </span>
                  </td>
                  <td>{fmtTime(s.created_at)}</td>
                  <td class="actions">
                    <button
                      type="button"
                      class="btn btn-small"
                      disabled={busy}
                      aria-label={`${s.enabled ? 'Turn off' : 'Turn on'} MCP server ${s.name}`}
                      onClick={() => void toggle(s)}
                    >
                      {s.enabled ? 'Turn off' : 'Turn on'}
                    </button>{' '}
                    <button
                      type="button"
                      class="btn btn-small btn-danger-outline"
                      aria-label={`Remove MCP server ${s.name}`}
                      onClick={() => setRemoving(s)}
                    >
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {removing && (
        <ConfirmDialog
          title={`Remove MCP server ${removing.name}?`}
          confirmLabel="Remove server"
          busy={busy}
          onConfirm={remove}
          onCancel={() => setRemoving(null)}
        >
          <p>Its tools, prompts and resources disappear from the gateway's MCP endpoint. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
