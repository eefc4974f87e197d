import { enc, get } from '../api';
import { Link } from '../components/Link';
import { Notice } from '../components/Notice';
import { SpendMeter } from '../components/SpendMeter';
import { fmtCost } from '../format';
import { useResource } from '../hooks';
import { getAccount } from '../session';
import type { Gateway, GatewaySpend, RuleSpend, SpendRuleConfig } from '../types';

/**
 * A gateway's spend limits (docs/budgets.md) and, for each rule, what its current window has
 * spent and has left, as `GET …/gateways/{id}/spend` reads them from the spend ledger.
 */
export function BudgetsView({ gateway }: { gateway: Gateway }) {
  const account = getAccount();
  const spend = useResource(
    () => get<GatewaySpend>(`/accounts/${enc(account)}/ai-gateway/gateways/${enc(gateway.id)}/spend`),
    [account, gateway.id],
  );
  const rules = spend.data?.rules ?? [];
  return (
    <section class="card" aria-labelledby="budgets-title">
      <div class="row-actions">
        <h2 id="budgets-title">Spend limits</h2>
        <button type="button" class="btn btn-small" onClick={() => void spend.reload()} disabled={spend.loading}>
          Refresh
        </button>
      </div>
      <p class="muted">
        Each request reserves its worst-case cost in every rule that applies before it is sent, and is refused (429) when a
        rule has no room left; it settles to what it cost when it ends. Rules are set with the gateway’s{' '}
        <code>spend_limits</code> through the API.
      </p>
      <Notice kind="error">{spend.error?.message}</Notice>
      {spend.data && !spend.data.enabled && rules.length > 0 && (
        <Notice kind="info">Spend limits are turned off on this gateway (enabled: false).</Notice>
      )}
      {spend.data && rules.length === 0 && (
        <p class="notice notice-info" role="status">
          No spend limits on this gateway.
        </p>
      )}
      {rules.length > 0 && (
        <div class="table-wrap">
          <table class="table budgets" aria-label="Spend limits">
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Applies to</th>
                <th scope="col">Window</th>
                <th scope="col" class="num">
                  Limit
                </th>
                <th scope="col">Spent and left</th>
              </tr>
            </thead>
            <tbody>
              {rules.map((r, i) => (
                <RuleRow key={r.id} rule={r} config={gateway.spend_limits?.rules?.[i]} gatewayId={gateway.id} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function RuleRow({ rule: r, config, gatewayId }: { rule: RuleSpend; config?: SpendRuleConfig; gatewayId: string }) {
  return (
    <tr data-rule={r.id}>
      <th scope="row">
        <code>{r.id}</code>
        {!r.enabled && <span class="badge badge-gray">off</span>}
      </th>
      <td>{appliesTo(config)}</td>
      <td>
        {windowLabel(r.window)}, {r.technique}
      </td>
      <td class="num">{fmtCost(r.limit)}</td>
      <td data-cell="spend">
        {r.spend ? (
          <SpendMeter spend={r.spend} label={`Rule ${r.id}`} />
        ) : (
          <span class="muted">
            A bucket per {r.partition_by.join(' and ')}, each with its own limit.{' '}
            {r.partition_by.some((p) => p.startsWith('metadata.')) && (
              <Link href={`/gateways/${enc(gatewayId)}/analytics?spend_by=${enc(r.partition_by.find((p) => p.startsWith('metadata.')) ?? '')}`}>
                Spend per value
              </Link>
            )}
          </span>
        )}
      </td>
    </tr>
  );
}

/** The rule's filters, e.g. `provider openai · model gpt-4o`; none: every request. */
function appliesTo(config?: SpendRuleConfig): string {
  if (!config) return '';
  const parts: string[] = [];
  const dims: [string, SpendRuleConfig['provider']][] = [
    ['provider', config.provider],
    ['model', config.model],
    ...Object.entries(config.metadata ?? {}).map(([k, d]): [string, SpendRuleConfig['provider']] => [`metadata.${k}`, d]),
  ];
  for (const [name, dim] of dims) {
    if (dim?.mode === 'filter') parts.push(`${name} ${(dim.values ?? []).join(', ')}`);
  }
  return parts.length ? parts.join(' · ') : 'every request';
}

function windowLabel(seconds: number): string {
  const units: [number, string][] = [
    [86_400, 'day'],
    [3_600, 'hour'],
    [60, 'minute'],
  ];
  for (const [size, unit] of units) {
    if (seconds % size === 0) {
      const n = seconds / size;
      return n === 1 ? `1 ${unit}` : `${n} ${unit}s`;
    }
  }
  return `${seconds} s`;
}
