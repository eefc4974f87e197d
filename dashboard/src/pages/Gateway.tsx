import { enc, get } from '../api';
import { Link } from '../components/Link';
import { Notice } from '../components/Notice';
import { useResource, useTitle } from '../hooks';
import { getAccount } from '../session';
import type { Gateway } from '../types';
import { AnalyticsView } from './Analytics';
import { BudgetsView } from './Budgets';
import { EvaluationsView } from './Evaluations';
import { Badges } from './Gateways';
import { KeysView } from './Keys';
import { LogDetail } from './LogDetail';
import { LogsView } from './Logs';
import { McpServersView } from './McpServers';
import { Overview } from './Overview';
import { RoutesView } from './Routes';
import { SafetyView } from './Safety';
import { SettingsView } from './Settings';

type Tab = 'overview' | 'logs' | 'analytics' | 'routes' | 'budgets' | 'evaluations' | 'keys' | 'mcp' | 'safety' | 'settings';

const TABS: { tab: Tab; label: string; suffix: string }[] = [
  { tab: 'overview', label: 'Endpoints', suffix: '' },
  { tab: 'logs', label: 'Logs', suffix: '/logs' },
  { tab: 'analytics', label: 'Analytics', suffix: '/analytics' },
  { tab: 'routes', label: 'Routes', suffix: '/routes' },
  { tab: 'budgets', label: 'Budgets', suffix: '/budgets' },
  { tab: 'evaluations', label: 'Evaluations', suffix: '/evaluations' },
  { tab: 'keys', label: 'Provider keys', suffix: '/keys' },
  { tab: 'mcp', label: 'MCP servers', suffix: '/mcp' },
  { tab: 'safety', label: 'Safety', suffix: '/safety' },
  { tab: 'settings', label: 'Settings', suffix: '/settings' },
];

interface Props {
  id: string;
  tab: Tab;
  logId?: string;
  search: URLSearchParams;
}

export function GatewayPage({ id, tab, logId, search }: Props) {
  const account = getAccount();
  const gw = useResource(() => get<Gateway>(`/accounts/${enc(account)}/ai-gateway/gateways/${enc(id)}`), [account, id]);
  const label = TABS.find((t) => t.tab === tab)?.label ?? '';
  useTitle(`${id} · ${logId ? 'Log' : label}`);
  const base = `/gateways/${enc(id)}`;

  return (
    <section>
      <div class="page-head">
        <p class="crumbs">
          <Link href="/">Gateways</Link> <span aria-hidden="true">/</span>
        </p>
        <h1 class="gateway-title">
          {id} {gw.data && <Badges gateway={gw.data} />}
        </h1>
      </div>
      <nav aria-label="Gateway sections">
        <ul class="tabs">
          {TABS.map((t) => (
            <li key={t.tab}>
              <Link href={base + t.suffix} aria-current={t.tab === tab ? 'page' : undefined}>
                {t.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <Notice kind="error">{gw.error?.message}</Notice>
      {gw.data && tab === 'overview' && <Overview gateway={gw.data} />}
      {gw.data && tab === 'logs' && !logId && <LogsView gateway={gw.data} search={search} />}
      {gw.data && tab === 'logs' && logId && <LogDetail gateway={gw.data} logId={logId} />}
      {gw.data && tab === 'analytics' && <AnalyticsView gatewayId={gw.data.id} search={search} />}
      {gw.data && tab === 'routes' && <RoutesView gateway={gw.data} search={search} />}
      {gw.data && tab === 'budgets' && <BudgetsView gateway={gw.data} />}
      {gw.data && tab === 'evaluations' && <EvaluationsView gateway={gw.data} />}
      {gw.data && tab === 'keys' && <KeysView gateway={gw.data} />}
      {gw.data && tab === 'mcp' && <McpServersView gateway={gw.data} />}
      {gw.data && tab === 'safety' && <SafetyView gateway={gw.data} onSaved={() => void gw.reload()} />}
      {gw.data && tab === 'settings' && <SettingsView gateway={gw.data} onSaved={() => void gw.reload()} />}
    </section>
  );
}
