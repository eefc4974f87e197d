import { useEffect, useState } from 'preact/hooks';
import { onUnauthorized } from './api';
import { Layout } from './components/Layout';
import { match, useLocation } from './router';
import { clearToken, getToken, onTokenChange } from './session';
import { AnalyticsPage } from './pages/Analytics';
import { DlpProfilesPage } from './pages/DlpProfiles';
import { GatewayPage } from './pages/Gateway';
import { GatewaysPage } from './pages/Gateways';
import { LoginPage } from './pages/Login';
import { NotFoundPage } from './pages/NotFound';
import { TokensPage } from './pages/Tokens';

export function App() {
  const [token, setTokenState] = useState(getToken());
  const [expired, setExpired] = useState(false);
  const loc = useLocation();

  useEffect(
    () =>
      onUnauthorized(() => {
        setExpired(true);
        setTokenState(null);
      }),
    [],
  );
  // One sign-in per browser: a sign-in or sign-out in another tab applies here too.
  useEffect(
    () =>
      onTokenChange(() => {
        setExpired(false);
        setTokenState(getToken());
      }),
    [],
  );

  if (!token) {
    return (
      <LoginPage
        expired={expired}
        onLogin={() => {
          setExpired(false);
          setTokenState(getToken());
        }}
      />
    );
  }

  const logout = () => {
    clearToken();
    setExpired(false);
    setTokenState(null);
  };

  return (
    <Layout path={loc.path} onLogout={logout}>
      {route(loc.path, loc.search)}
    </Layout>
  );
}

function route(path: string, search: URLSearchParams) {
  let m: Record<string, string> | null;
  if (path === '/' || path === '/gateways') return <GatewaysPage />;
  if (path === '/analytics') return <AnalyticsPage search={search} />;
  if (path === '/tokens') return <TokensPage />;
  if (path === '/dlp') return <DlpProfilesPage />;
  if ((m = match('/gateways/:id', path))) return <GatewayPage id={m.id} tab="overview" search={search} />;
  if ((m = match('/gateways/:id/:tab', path)) && ['logs', 'analytics', 'routes', 'budgets', 'evaluations', 'keys', 'mcp', 'safety', 'settings'].includes(m.tab)) {
    return <GatewayPage id={m.id} tab={m.tab as 'logs'} search={search} />;
  }
  if ((m = match('/gateways/:id/logs/:logId', path))) {
    return <GatewayPage id={m.id} tab="logs" logId={m.logId} search={search} />;
  }
  return <NotFoundPage />;
}
