import { enc, get } from '../api';
import { SpendMeter } from '../components/SpendMeter';
import { fmtCost, fmtTime } from '../format';
import { useResource } from '../hooks';
import type { RunToken } from '../types';

/** A token's scope as a short list; fields it does not restrict are left out. */
export function ScopeSummary({ token: t }: { token: RunToken }) {
  const items: [string, string][] = [];
  const globs = (v: string[] | null) => (v ? v.join(', ') : '');
  if (t.gateways) items.push(['gateways', globs(t.gateways)]);
  if (t.providers) items.push(['providers', globs(t.providers)]);
  if (t.models) items.push(['models', globs(t.models)]);
  if (t.rate_limit) items.push(['rate limit', `${t.rate_limit.limit} per ${t.rate_limit.interval} s, ${t.rate_limit.technique}`]);
  if (t.budget) items.push(['budget', budgetLabel(t.budget)]);
  if (t.expires_at) items.push(['expires', fmtTime(t.expires_at)]);
  if (t.metadata) {
    for (const [k, v] of Object.entries(t.metadata)) items.push([`metadata ${k}`, String(v)]);
  }
  if (items.length === 0) return <span class="muted">every gateway, provider and model</span>;
  return (
    <dl class="facts scope" data-scope>
      {items.map(([k, v]) => (
        <div key={k} class="contents" data-scope-field={k}>
          <dt>{k}</dt>
          <dd>
            <code>{v}</code>
          </dd>
        </div>
      ))}
    </dl>
  );
}

function budgetLabel(b: NonNullable<RunToken['budget']>): string {
  const per = typeof b.window === 'number' ? `${b.window} s, ${b.technique ?? 'fixed'}` : `${b.window} (UTC)`;
  return `${fmtCost(b.limit)} per ${per}`;
}

/** A token's spend in its budget's current window, read from `GET …/tokens/{id}`. */
export function TokenSpend({ path, token, refresh }: { path: string; token: RunToken; refresh: number }) {
  const one = useResource(
    () => (token.budget ? get<RunToken>(`${path}/${enc(token.id)}`) : Promise.resolve(undefined)),
    [path, token.id, refresh],
  );
  if (!token.budget) return <span class="muted">no budget</span>;
  if (one.error) return <span class="field-error">{one.error.message}</span>;
  if (!one.data?.spend) return <span class="muted">…</span>;
  return <SpendMeter spend={one.data.spend} label={`Budget of ${token.name}`} />;
}
