import type { ComponentChildren } from 'preact';
import { getAccount } from '../session';
import { Link } from './Link';

const NAV = [
  { href: '/', label: 'Gateways', active: (p: string) => p === '/' || p.startsWith('/gateways') },
  { href: '/analytics', label: 'Analytics', active: (p: string) => p === '/analytics' },
  { href: '/tokens', label: 'Run tokens', active: (p: string) => p === '/tokens' },
  { href: '/dlp', label: 'DLP profiles', active: (p: string) => p === '/dlp' },
];

export function Layout({ path, onLogout, children }: { path: string; onLogout: () => void; children: ComponentChildren }) {
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/" class="brand">
          <span class="brand-mark" aria-hidden="true">
            T
          </span>
          Tollgate
        </Link>
        <nav aria-label="Main">
          <ul class="nav">
            {NAV.map((item) => (
              <li key={item.href}>
                <Link href={item.href} aria-current={item.active(path) ? 'page' : undefined}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="topbar-end">
          <span class="account" title="Account">
            account <strong>{getAccount()}</strong>
          </span>
          <button type="button" class="btn btn-small" onClick={onLogout} title="Forget the admin token in this browser">
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
