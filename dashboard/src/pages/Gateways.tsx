import { useState } from 'preact/hooks';
import { ApiError, call, enc, get, query } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Field, invalidBy } from '../components/Field';
import { Link } from '../components/Link';
import { Notice } from '../components/Notice';
import { fmtCost, fmtInt, fmtTime } from '../format';
import { useResource, useTitle } from '../hooks';
import { navigate } from '../router';
import { getAccount } from '../session';
import type { Analytics, Gateway } from '../types';

const PER_PAGE = 100;

async function allGateways(account: string): Promise<Gateway[]> {
  const out: Gateway[] = [];
  for (let page = 1; ; page++) {
    const res = await call<Gateway[]>('GET', `/accounts/${enc(account)}/ai-gateway/gateways${query([['page', page], ['per_page', PER_PAGE]])}`);
    out.push(...res.result);
    if (!res.result_info || page >= res.result_info.total_pages || res.result.length === 0) return out;
  }
}

interface Today {
  requests: number;
  errors: number;
  cost: number;
}

/** Requests, errors and cost since local midnight, per gateway. */
async function today(account: string): Promise<Map<string, Today>> {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const res = await get<Analytics>(
    `/accounts/${enc(account)}/ai-gateway/analytics${query([
      ['start', midnight.toISOString()],
      ['end', new Date(Date.now() + 60_000).toISOString()],
      ['interval', 'hour'],
      ['group_by', 'gateway'],
    ])}`,
  );
  const out = new Map<string, Today>();
  for (const s of res.series) {
    const id = s.group?.gateway ?? '';
    const t = { requests: 0, errors: 0, cost: 0 };
    for (const p of s.points) {
      t.requests += p.requests;
      t.errors += p.errors;
      t.cost += p.cost;
    }
    out.set(id, t);
  }
  return out;
}

export function GatewaysPage() {
  useTitle('Gateways');
  const account = getAccount();
  const list = useResource(async () => {
    const [gateways, stats] = await Promise.all([allGateways(account), today(account)]);
    return { gateways, stats };
  }, [account]);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState('');
  const [deleteError, setDeleteError] = useState('');

  const confirmDelete = async () => {
    if (!deleting) return;
    setBusy(true);
    try {
      await call('DELETE', `/accounts/${enc(account)}/ai-gateway/gateways/${enc(deleting)}`);
      setDeleting(null);
      await list.reload();
      setMessage(`Gateway ${deleting} deleted.`);
    } catch (e) {
      setDeleteError(e instanceof Error ? e.message : String(e));
      setDeleting(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1>Gateways</h1>
        <p class="muted">
          Each gateway has its own logs, analytics, cache, limits and authentication. The <code>default</code> gateway is
          created on its first request.
        </p>
      </div>
      <CreateGateway account={account} onCreated={(id) => navigate(`/gateways/${enc(id)}`)} />
      <Notice kind="ok">{message}</Notice>
      <Notice kind="error">{deleteError}</Notice>
      <Notice kind="error">{list.error?.message}</Notice>
      {list.data && (
        <div class="table-wrap">
          <table class="table" aria-label="Gateways">
            <thead>
              <tr>
                <th scope="col">Gateway</th>
                <th scope="col" class="num">
                  Requests today
                </th>
                <th scope="col" class="num">
                  Errors today
                </th>
                <th scope="col" class="num">
                  Cost today
                </th>
                <th scope="col">Settings</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.gateways.length === 0 && (
                <tr>
                  <td colSpan={7} class="empty">
                    No gateways yet. Create one above, or send a request to <code>/v1/{account}/default/…</code>.
                  </td>
                </tr>
              )}
              {list.data.gateways.map((g) => {
                const t = list.data?.stats.get(g.id);
                return (
                  <tr key={g.id} data-gateway={g.id}>
                    <th scope="row">
                      <Link href={`/gateways/${enc(g.id)}`}>{g.id}</Link>
                    </th>
                    <td class="num" data-col="requests">
                      {fmtInt(t?.requests ?? 0)}
                    </td>
                    <td class="num" data-col="errors">
                      {fmtInt(t?.errors ?? 0)}
                    </td>
                    <td class="num" data-col="cost">
                      {fmtCost(t?.cost ?? 0)}
                    </td>
                    <td>
                      <Badges gateway={g} />
                    </td>
                    <td>{fmtTime(g.created_at)}</td>
                    <td class="actions">
                      <Link class="btn btn-small" href={`/gateways/${enc(g.id)}/logs`}>
                        Logs
                      </Link>
                      <button
                        type="button"
                        class="btn btn-small btn-danger-outline"
                        aria-label={`Delete gateway ${g.id}`}
                        onClick={() => {
                          setDeleteError('');
                          setDeleting(g.id);
                        }}
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {list.loading && !list.data && <p class="muted">Loading…</p>}
      {deleting && (
        <ConfirmDialog
          title={`Delete gateway ${deleting}?`}
          confirmLabel="Delete gateway"
          busy={busy}
          onConfirm={confirmDelete}
          onCancel={() => setDeleting(null)}
        >
          <p>
            Requests to <code>{`/v1/${account}/${deleting}/…`}</code> will fail with 404 from now on. Its settings are lost.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

export function Badges({ gateway: g }: { gateway: Gateway }) {
  return (
    <ul class="badges">
      {g.authentication && <li class="badge badge-blue">auth</li>}
      {g.cache_ttl > 0 && <li class="badge">cache {g.cache_ttl}s</li>}
      {g.rate_limiting_limit > 0 && g.rate_limiting_interval > 0 && (
        <li class="badge">
          {g.rate_limiting_limit}/{g.rate_limiting_interval}s
        </li>
      )}
      {!g.collect_logs && <li class="badge badge-gray">logs off</li>}
    </ul>
  );
}

function CreateGateway({ account, onCreated }: { account: string; onCreated: (id: string) => void }) {
  const [id, setId] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const res = await call<Gateway>('POST', `/accounts/${enc(account)}/ai-gateway/gateways`, { id: id.trim() });
      onCreated(res.result.id);
    } catch (err) {
      setError(err instanceof ApiError ? Object.values(err.byField(['id'])).join('; ') : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card inline-form" onSubmit={submit} noValidate aria-label="Create a gateway">
      <Field id="new-gateway-id" label="New gateway id" error={error} hint="Lower-case letters, digits and -, e.g. my-app.">
        <input
          id="new-gateway-id"
          name="id"
          autocomplete="off"
          spellcheck={false}
          value={id}
          {...invalidBy('new-gateway-id', true, error)}
          onInput={(e) => setId(e.currentTarget.value)}
        />
      </Field>
      <button type="submit" class="btn btn-primary" disabled={busy || !id.trim()}>
        Create gateway
      </button>
    </form>
  );
}
