// A gateway's stored provider keys (docs/keys.md): list, add, remove. A secret is sent once and
// never shown again: the API returns only its preview, and the form forgets it once stored.

import { useState } from 'preact/hooks';
import { ApiError, call, enc, get } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Field, invalidBy } from '../components/Field';
import { Link } from '../components/Link';
import { Notice } from '../components/Notice';
import { fmtTime } from '../format';
import { useResource } from '../hooks';
import { getAccount } from '../session';
import { type Gateway, PROVIDERS, type ProviderKey } from '../types';

const FIELDS = ['provider_slug', 'alias', 'secret', 'default_config'] as const;

export function KeysView({ gateway }: { gateway: Gateway }) {
  const account = getAccount();
  const path = `/accounts/${enc(account)}/ai-gateway/gateways/${enc(gateway.id)}/provider_configs`;
  const list = useResource(() => get<ProviderKey[]>(`${path}?per_page=100`), [path]);
  const [provider, setProvider] = useState('openai');
  const [alias, setAlias] = useState('default');
  const [secret, setSecret] = useState('');
  const [isDefault, setIsDefault] = useState(true);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState('');
  const [removing, setRemoving] = useState<ProviderKey | null>(null);
  const [busy, setBusy] = useState(false);

  const add = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setMessage('');
    try {
      const res = await call<ProviderKey>('POST', path, {
        provider_slug: provider.trim(),
        alias: alias.trim(),
        secret,
        default_config: isDefault,
      });
      // The secret is not kept anywhere once the gateway has it.
      setSecret('');
      setMessage(`Key ${res.result.secret_preview} stored for ${res.result.provider_slug} (alias ${res.result.alias}).`);
      await list.reload();
    } catch (err) {
      setErrors(err instanceof ApiError ? err.byField(FIELDS) : { '': String(err) });
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!removing) return;
    setBusy(true);
    try {
      await call('DELETE', `${path}/${enc(removing.id)}`);
      setMessage(`Key ${removing.secret_preview} removed.`);
      setRemoving(null);
      await list.reload();
    } catch (err) {
      setErrors({ '': err instanceof Error ? err.message : String(err) });
      setRemoving(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="keys">
      <p class="muted">
        Requests through this gateway that carry no provider key of their own get the stored key of their provider: the one
        named by <code>cf-aig-byok-alias</code>, else the default one. Keys are encrypted at rest and never shown again.
      </p>
      {!gateway.authentication && (
        <Notice kind="error">
          Stored keys are used only on gateways that require a run token: turn authentication on in{' '}
          <Link href={`/gateways/${enc(gateway.id)}/settings`}>Settings</Link> first.
        </Notice>
      )}

      <form class="card inline-form" onSubmit={add} noValidate aria-label="Add a provider key">
        <Field id="key-provider" label="Provider" error={errors.provider_slug}>
          <input
            id="key-provider"
            name="provider_slug"
            list="key-providers"
            autocomplete="off"
            value={provider}
            {...invalidBy('key-provider', false, errors.provider_slug)}
            onInput={(e) => setProvider(e.currentTarget.value)}
          />
          <datalist id="key-providers">
            {PROVIDERS.map((p) => (
              <option key={p} value={p} />
            ))}
          </datalist>
        </Field>
        <Field id="key-alias" label="Alias" error={errors.alias} hint="Requests name it with cf-aig-byok-alias.">
          <input
            id="key-alias"
            name="alias"
            autocomplete="off"
            value={alias}
            {...invalidBy('key-alias', true, errors.alias)}
            onInput={(e) => setAlias(e.currentTarget.value)}
          />
        </Field>
        <Field id="key-secret" label="Secret" error={errors.secret} hint="The provider's API key; shown again only as a preview.">
          <input
            id="key-secret"
            name="secret"
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={secret}
            {...invalidBy('key-secret', true, errors.secret)}
            onInput={(e) => setSecret(e.currentTarget.value)}
          />
        </Field>
        <div class="field field-check">
          <input id="key-default" name="default_config" type="checkbox" checked={isDefault} onChange={(e) => setIsDefault(e.currentTarget.checked)} />
          <label for="key-default">Default</label>
          <small class="hint">Used by requests that name no alias.</small>
        </div>
        <button type="submit" class="btn btn-primary" disabled={busy}>
          Add key
        </button>
      </form>

      <Notice kind="ok">{message}</Notice>
      <Notice kind="error">{errors[''] ?? list.error?.message}</Notice>

      {list.data && (
        <div class="table-wrap">
          <table class="table" aria-label="Provider keys">
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col">Alias</th>
                <th scope="col">Default</th>
                <th scope="col">Status</th>
                <th scope="col">Key</th>
                <th scope="col">Rate limit</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.length === 0 && (
                <tr>
                  <td colSpan={8} class="empty">
                    No stored keys: requests must carry their own provider key.
                  </td>
                </tr>
              )}
              {list.data.map((k) => (
                <tr key={k.id} data-key-id={k.id}>
                  <th scope="row">{k.provider_slug}</th>
                  <td>{k.alias}</td>
                  <td>{k.default_config ? 'yes' : ''}</td>
                  <td>
                    <span class={k.status === 'active' ? 'badge badge-status-2xx' : 'badge badge-status-5xx'} data-status={k.status}>
                      {k.status}
                    </span>
                  </td>
                  <td>
                    <code>{k.secret_preview}</code>
                  </td>
                  <td>{k.rate_limit ? `${k.rate_limit} / ${k.rate_limit_period} s` : ''}</td>
                  <td>{k.last_used_at ? fmtTime(k.last_used_at) : 'never'}</td>
                  <td class="actions">
                    <button
                      type="button"
                      class="btn btn-small btn-danger-outline"
                      aria-label={`Remove key ${k.alias} of ${k.provider_slug}`}
                      onClick={() => setRemoving(k)}
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
          title={`Remove key ${removing.secret_preview}?`}
          confirmLabel="Remove key"
          busy={busy}
          onConfirm={remove}
          onCancel={() => setRemoving(null)}
        >
          <p>Requests that relied on it go to {removing.provider_slug} without it. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </div>
  );
}
