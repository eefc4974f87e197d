// The admin token lives in sessionStorage only (gone when the tab closes; never a cookie).
// The account is a preference, kept across sessions.

const TOKEN_KEY = 'tollgate.adminToken';
const ACCOUNT_KEY = 'tollgate.account';

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  try {
    sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage unavailable: nothing stored */
  }
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
