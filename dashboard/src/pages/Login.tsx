import { useState } from 'preact/hooks';
import { ApiError, checkToken } from '../api';
import { Field, invalidBy } from '../components/Field';
import { Notice } from '../components/Notice';
import { useTitle } from '../hooks';
import { ACCOUNT_RE, getAccount, setAccount, setToken } from '../session';

export function LoginPage({ expired, onLogin }: { expired: boolean; onLogin: () => void }) {
  useTitle('Sign in');
  const [token, setTokenText] = useState('');
  const [account, setAccountText] = useState(getAccount());
  const [errors, setErrors] = useState<{ token?: string; account?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    const a = account.trim();
    const problems: typeof errors = {};
    if (!t) problems.token = 'Enter the admin token.';
    if (!ACCOUNT_RE.test(a)) problems.account = 'Letters, digits, - and _, at most 64.';
    setErrors(problems);
    if (problems.token || problems.account) return;
    setBusy(true);
    try {
      await checkToken(t, a);
      setToken(t);
      setAccount(a);
      onLogin();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setErrors({ token: 'The gateway refused this token.' });
      else setErrors({ form: err instanceof Error ? err.message : String(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="login">
      <form class="card login-card" onSubmit={submit} noValidate>
        <h1>
          <span class="brand-mark" aria-hidden="true">
            T
          </span>{' '}
          Tollgate
        </h1>
        <p class="muted">Sign in with the admin token. It is kept in this browser, for every tab, until you sign out.</p>
        {expired && <Notice kind="info">The token was refused; sign in again.</Notice>}
        <Notice kind="error">{errors.form}</Notice>
        <Field id="login-token" label="Admin token" error={errors.token} hint="Printed at first start; also in tollgate-data/admin-token.">
          <input
            id="login-token"
            name="token"
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={token}
            {...invalidBy('login-token', true, errors.token)}
            onInput={(e) => setTokenText(e.currentTarget.value)}
            autofocus
          />
        </Field>
        <Field id="login-account" label="Account" error={errors.account}>
          <input
            id="login-account"
            name="account"
            autocomplete="off"
            spellcheck={false}
            value={account}
            {...invalidBy('login-account', false, errors.account)}
            onInput={(e) => setAccountText(e.currentTarget.value)}
          />
        </Field>
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
