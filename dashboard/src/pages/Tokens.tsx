import { useState } from 'preact/hooks';
import { ApiError, call, enc, get } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { CopyButton } from '../components/CopyButton';
import { describedBy, Field } from '../components/Field';
import { Notice } from '../components/Notice';
import { fmtTime } from '../format';
import { useResource, useTitle } from '../hooks';
import { getAccount } from '../session';
import type { RunToken } from '../types';

export function TokensPage() {
  useTitle('Run tokens');
  const account = getAccount();
  const path = `/accounts/${enc(account)}/ai-gateway/tokens`;
  const list = useResource(() => get<RunToken[]>(path), [path]);
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState('');
  const [created, setCreated] = useState<RunToken | null>(null);
  const [revoking, setRevoking] = useState<RunToken | null>(null);
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setNameError('');
    setMessage('');
    try {
      const res = await call<RunToken>('POST', path, { name: name.trim() });
      setCreated(res.result);
      setName('');
      await list.reload();
    } catch (err) {
      setNameError(err instanceof ApiError ? Object.values(err.byField(['name'])).join('; ') : String(err));
    } finally {
      setBusy(false);
    }
  };

  const revoke = async () => {
    if (!revoking) return;
    setBusy(true);
    try {
      await call('DELETE', `${path}/${enc(revoking.id)}`);
      if (created?.id === revoking.id) setCreated(null);
      setRevoking(null);
      await list.reload();
      setMessage(`Token ${revoking.name} revoked; requests using it now get 401.`);
    } catch (err) {
      setMessage('');
      setNameError(err instanceof Error ? err.message : String(err));
      setRevoking(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1>Run tokens</h1>
        <p class="muted">
          Tokens open the gateways of account <strong>{account}</strong> that require authentication. Send one as{' '}
          <code>cf-aig-authorization: Bearer &lt;token&gt;</code>.
        </p>
      </div>

      <form class="card inline-form" onSubmit={create} noValidate aria-label="Create a run token">
        <Field id="token-name" label="Token name" error={nameError} hint="What uses it, e.g. billing-service.">
          <input
            id="token-name"
            name="name"
            autocomplete="off"
            value={name}
            aria-invalid={nameError ? true : undefined}
            aria-describedby={describedBy('token-name', true, nameError)}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" class="btn btn-primary" disabled={busy}>
          Create token
        </button>
      </form>

      {created?.token && (
        <div class="card token-once" role="status" aria-labelledby="token-once-title">
          <h2 id="token-once-title">Token {created.name} created</h2>
          <p>Copy it now: it is shown only once and cannot be recovered.</p>
          <div class="code-block">
            <pre>
              <code data-token>{created.token}</code>
            </pre>
            <CopyButton text={created.token} label="Copy token" />
          </div>
          <button type="button" class="btn btn-small" onClick={() => setCreated(null)}>
            Done
          </button>
        </div>
      )}

      <Notice kind="ok">{message}</Notice>
      <Notice kind="error">{list.error?.message}</Notice>

      {list.data && (
        <div class="table-wrap">
          <table class="table" aria-label="Run tokens">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.length === 0 && (
                <tr>
                  <td colSpan={4} class="empty">
                    No run tokens.
                  </td>
                </tr>
              )}
              {list.data.map((t) => (
                <tr key={t.id} data-token-id={t.id}>
                  <th scope="row">{t.name}</th>
                  <td>
                    <code>{t.id}</code>
                  </td>
                  <td>{fmtTime(t.created_at)}</td>
                  <td class="actions">
                    <button
                      type="button"
                      class="btn btn-small btn-danger-outline"
                      aria-label={`Revoke token ${t.name}`}
                      onClick={() => setRevoking(t)}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {revoking && (
        <ConfirmDialog
          title={`Revoke token ${revoking.name}?`}
          confirmLabel="Revoke token"
          busy={busy}
          onConfirm={revoke}
          onCancel={() => setRevoking(null)}
        >
          <p>Requests that send it will get 401 from the next request on. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </section>
  );
}
