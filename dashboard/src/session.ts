// The admin token lives in localStorage, so every tab of this browser shares one sign-in until
// "Sign out" clears it (never a cookie; the trade-off is in docs/security.md). The account is a
// preference, kept across sign-ins.

const TOKEN_KEY = 'tollgate.adminToken';
const ACCOUNT_KEY = 'tollgate.account';

export function getToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  try {
    localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage unavailable: nothing stored */
  }
}

/** Calls `listener` when another tab signs in or out (the token key changes there). */
export function onTokenChange(listener: () => void): () => void {
  const handler = (e: StorageEvent) => {
    if (e.key === TOKEN_KEY || e.key === null) listener();
  };
  window.addEventListener('storage', handler);
  return () => window.removeEventListener('storage', handler);
}

export function getAccount(): string {
  try {
    return localStorage.getItem(ACCOUNT_KEY) || 'local';
  } catch {
    return 'local';
  }
}

export function setAccount(account: string): void {
  try {
    localStorage.setItem(ACCOUNT_KEY, account);
  } catch {
    /* not remembered */
  }
}

export const ACCOUNT_RE = /^[A-Za-z0-9_-]{1,64}$/;
