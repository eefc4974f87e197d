import { useState } from 'preact/hooks';
import { call, enc, get } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { CopyButton } from '../components/CopyButton';
import { Notice } from '../components/Notice';
import { fmtTime } from '../format';
import { useResource, useTitle } from '../hooks';
import { getAccount } from '../session';
import type { RunToken } from '../types';
import { RevokeForm } from './RevokeForm';
import { TokenForm } from './TokenForm';
import { ScopeSummary, TokenSpend } from './TokenScope';

/** Run tokens: create one with its scope, see each one's scope and spend, revoke. */
export function TokensPage() {
  useTitle('Run tokens');
  const account = getAccount();
  const path = `/accounts/${enc(account)}/ai-gateway/tokens`;
  const list = useResource(() => get<RunToken[]>(path), [path]);
  const [created, setCreated] = useState<RunToken | null>(null);
  const [revoking, setRevoking] = useState<RunToken | null>(null);
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  // Bumped by Refresh: every row reads its spend again.
  const [refresh, setRefresh] = useState(0);

  const revoke = async () => {
    if (!revoking) return;
    setBusy(true);
    setError('');
    try {
      await call('DELETE', `${path}/${enc(revoking.id)}`);
      if (created?.id === revoking.id) setCreated(null);
      setMessage(`Token ${revoking.name} revoked; requests using it now get 401.`);
      await list.reload();
    } catch (err) {
      setMessage('');
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setRevoking(null);
      setBusy(false);
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1>Run tokens</h1>
        <p class="muted">
          Tokens open the gateways of account <strong>{account}</strong> that require authentication. Send one as{' '}
          <code>cf-aig-authorization: Bearer &lt;token&gt;</code>. A scope limits which gateways, providers and models it
          reaches; a budget caps what it may spend.
        </p>
      </div>

      <TokenForm
        path={path}
        onCreated={(token) => {
          setCreated(token);
          setMessage('');
          void list.reload();
        }}
      />

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
      <Notice kind="error">{error || list.error?.message}</Notice>

      {list.data && list.data.length > 0 && <RevokeForm tokens={list.data} onPick={setRevoking} />}

      {list.data && (
        <div class="stack">
          <div class="row-actions">
            <button
              type="button"
              class="btn btn-small"
              onClick={() => {
                setRefresh((n) => n + 1);
                void list.reload();
              }}
            >
              Refresh spend
            </button>
          </div>
          <div class="table-wrap">
            <table class="table tokens" aria-label="Run tokens">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Id</th>
                  <th scope="col">Scope</th>
                  <th scope="col">Spend this window</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.length === 0 && (
                  <tr>
                    <td colSpan={6} class="empty">
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
                    <td>
                      <ScopeSummary token={t} />
                    </td>
                    <td data-cell="spend">
                      <TokenSpend path={path} token={t} refresh={refresh} />
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
          <p>
            Token <code>{revoking.id}</code>. Requests that send it will get 401 from the next request on. This cannot be
            undone.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
