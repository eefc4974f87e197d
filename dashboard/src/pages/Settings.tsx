import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, enc, get } from '../api';
import { describedBy, Field, invalidBy } from '../components/Field';
import { Link } from '../components/Link';
import { Notice } from '../components/Notice';
import { useDraft } from '../hooks';
import { getAccount } from '../session';
import type { Gateway } from '../types';

/** The form's values, as typed (numbers stay text until sent; the API validates). */
interface Form {
  cache_ttl: string;
  cache_invalidate_on_update: boolean;
  rate_limiting_limit: string;
  rate_limiting_interval: string;
  rate_limiting_technique: string;
  rate_limiting_key_kind: 'gateway' | 'ip' | 'header';
  rate_limiting_header: string;
  collect_logs: boolean;
  log_management: string;
  log_management_strategy: string;
  retry_max_attempts: string;
  retry_delay: string;
  retry_backoff: string;
  request_timeout_ms: string;
  authentication: boolean;
  byok_only: boolean;
}

const FIELDS = [
  'cache_ttl',
  'cache_invalidate_on_update',
  'rate_limiting_limit',
  'rate_limiting_interval',
  'rate_limiting_technique',
  'rate_limiting_key',
  'collect_logs',
  'log_management',
  'log_management_strategy',
  'retry_max_attempts',
  'retry_delay',
  'retry_backoff',
  'request_timeout_ms',
  'authentication',
  'byok_only',
] as const;

function fromGateway(g: Gateway): Form {
  const key = g.rate_limiting_key || 'gateway';
  const kind = key.startsWith('header:') ? 'header' : key === 'ip' ? 'ip' : 'gateway';
  return {
    cache_ttl: String(g.cache_ttl),
    cache_invalidate_on_update: g.cache_invalidate_on_update,
    rate_limiting_limit: String(g.rate_limiting_limit),
    rate_limiting_interval: String(g.rate_limiting_interval),
    rate_limiting_technique: g.rate_limiting_technique,
    rate_limiting_key_kind: kind,
    rate_limiting_header: kind === 'header' ? key.slice('header:'.length) : '',
    collect_logs: g.collect_logs,
    log_management: g.log_management === null ? '' : String(g.log_management),
    log_management_strategy: g.log_management_strategy ?? 'STOP_INSERTING',
    retry_max_attempts: String(g.retry_max_attempts),
    retry_delay: String(g.retry_delay),
    retry_backoff: g.retry_backoff,
    request_timeout_ms: g.request_timeout_ms === null ? '' : String(g.request_timeout_ms),
    authentication: g.authentication,
    byok_only: g.byok_only,
  };
}

const DAY_S = 86400;

/** A setting's bound as the API enforces it (`GET …/ai-gateway/settings_bounds`). */
interface Bound {
  min: number;
  max: number;
  unit: string;
}

/** Integers are sent as numbers; anything else as typed, so the API can say what is wrong. */
function num(text: string, empty: number | null): number | string | null {
  const t = text.trim();
  if (t === '') return empty;
  return /^-?\d+$/.test(t) ? Number(t) : t;
}

function toBody(f: Form): Record<string, unknown> {
  return {
    cache_ttl: num(f.cache_ttl, 0),
    cache_invalidate_on_update: f.cache_invalidate_on_update,
    rate_limiting_limit: num(f.rate_limiting_limit, 0),
    rate_limiting_interval: num(f.rate_limiting_interval, 0),
    rate_limiting_technique: f.rate_limiting_technique,
    rate_limiting_key: f.rate_limiting_key_kind === 'header' ? `header:${f.rate_limiting_header.trim()}` : f.rate_limiting_key_kind,
    collect_logs: f.collect_logs,
    log_management: num(f.log_management, null),
    log_management_strategy: f.log_management.trim() === '' ? null : f.log_management_strategy,
    retry_max_attempts: num(f.retry_max_attempts, 1),
    retry_delay: num(f.retry_delay, 0),
    retry_backoff: f.retry_backoff,
    request_timeout_ms: num(f.request_timeout_ms, null),
    authentication: f.authentication,
    byok_only: f.byok_only,
  };
}

export function SettingsView({ gateway, onSaved }: { gateway: Gateway; onSaved: () => void }) {
  const account = getAccount();
  const [form, setForm] = useDraft<Form>(() => fromGateway(gateway), [gateway]);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);


  // The limits come from the API, the one place they are written; until they arrive (or if they
  // cannot), the hints leave the numbers out and the API's message still names them on a mistake.
  const [bounds, setBounds] = useState<Record<string, Bound>>({});
  useEffect(() => {
    get<Record<string, Bound>>(`/accounts/${enc(account)}/ai-gateway/settings_bounds`)
      .then(setBounds)
      .catch(() => setBounds({}));
  }, [account]);
  const range = (key: string) => {
    const b = bounds[key];
    return b ? ` ${b.min} to ${b.max}` : '';
  };
  const ttlMax = bounds.cache_ttl?.max;

  const set = <K extends keyof Form>(key: K, value: Form[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    setSaved('');
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setSaved('');
    try {
      const res = await call<Gateway>('PUT', `/accounts/${enc(account)}/ai-gateway/gateways/${enc(gateway.id)}`, toBody(form));
      setErrors({});
      setForm(fromGateway(res.result));
      setSaved('Settings saved. They apply to the next request.');
      onSaved();
    } catch (err) {
      const byField = err instanceof ApiError ? err.byField(FIELDS) : { '': String(err) };
      setErrors(byField);
      // Move focus to the first field the API complained about.
      const first = FIELDS.find((f) => byField[f]);
      if (first) setTimeout(() => document.getElementById(`s-${first}`)?.focus(), 0);
    } finally {
      setBusy(false);
    }
  };

  const text = (key: keyof Form & (typeof FIELDS)[number], label: string, hint: ComponentChildren, opts: { inputMode?: 'numeric' } = {}) => (
    <Field id={`s-${key}`} label={label} hint={hint} error={errors[key]}>
      <input
        id={`s-${key}`}
        name={key}
        value={form[key] as string}
        inputMode={opts.inputMode ?? 'numeric'}
        autocomplete="off"
        {...invalidBy(`s-${key}`, true, errors[key])}
        onInput={(e) => set(key, e.currentTarget.value as never)}
      />
    </Field>
  );

  const check = (key: 'cache_invalidate_on_update' | 'collect_logs' | 'authentication' | 'byok_only', label: string, hint: ComponentChildren) => (
    <div class={errors[key] ? 'field field-check field-invalid' : 'field field-check'}>
      <input
        id={`s-${key}`}
        name={key}
        type="checkbox"
        checked={form[key]}
        aria-describedby={describedBy(`s-${key}`, true, errors[key])}
        onChange={(e) => set(key, e.currentTarget.checked)}
      />
      <label for={`s-${key}`}>{label}</label>
      <small class="hint" id={`s-${key}-hint`}>
        {hint}
      </small>
      {errors[key] && (
        <small class="field-error" id={`s-${key}-error`} role="alert">
          {errors[key]}
        </small>
      )}
    </div>
  );

  const select = (key: keyof Form & (typeof FIELDS)[number], label: string, options: [string, string][], hint?: string) => (
    <Field id={`s-${key}`} label={label} hint={hint} error={errors[key]}>
      <select
        id={`s-${key}`}
        name={key}
        value={form[key] as string}
        aria-describedby={describedBy(`s-${key}`, Boolean(hint), errors[key])}
        onChange={(e) => set(key, e.currentTarget.value as never)}
      >
        {options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    </Field>
  );

  return (
    <form class="settings stack" onSubmit={submit} noValidate aria-label="Gateway settings">
      <Notice kind="error">{errors['']}</Notice>

      <fieldset class="card">
        <legend>Authentication</legend>
        {check(
          'authentication',
          'Require a run token',
          <>
            Requests must send <code>cf-aig-authorization: Bearer &lt;token&gt;</code>. Create tokens under{' '}
            <Link href="/tokens">Run tokens</Link>.
          </>,
        )}
        {check(
          'byok_only',
          'Require provider credentials',
          <>
            Refuse (400) a request that carries no provider key and has no stored one under{' '}
            <Link href={`/gateways/${encodeURIComponent(gateway.id)}/keys`}>Provider keys</Link>.
          </>,
        )}
      </fieldset>

      <fieldset class="card">
        <legend>Caching</legend>
        <div class="grid-2">
          {text('cache_ttl', 'Cache TTL (seconds)', ttlMax === undefined ? '0 turns caching off.' : `0 turns caching off; at most ${ttlMax} (${Math.floor(ttlMax / DAY_S)} days).`)}
        </div>
        {check('cache_invalidate_on_update', 'Invalidate the cache when settings change', 'Entries cached before a change are never served again.')}
      </fieldset>

      <fieldset class="card">
        <legend>Rate limiting</legend>
        <div class="grid-2">
          {text('rate_limiting_limit', 'Requests allowed', '0 turns the limit off.')}
          {text('rate_limiting_interval', 'Per interval (seconds)', `Window length,${range('rate_limiting_interval')}; above 0 when a limit is set.`)}
          {select('rate_limiting_technique', 'Technique', [
            ['fixed', 'Fixed window'],
            ['sliding', 'Sliding window'],
          ])}
          <Field id="s-rate_limiting_key" label="Counted per" error={errors.rate_limiting_key}>
            <div class="inline">
              <select
                id="s-rate_limiting_key"
                name="rate_limiting_key"
                value={form.rate_limiting_key_kind}
                aria-describedby={describedBy('s-rate_limiting_key', false, errors.rate_limiting_key)}
                onChange={(e) => set('rate_limiting_key_kind', e.currentTarget.value as Form['rate_limiting_key_kind'])}
              >
                <option value="gateway">the whole gateway</option>
                <option value="ip">client IP</option>
                <option value="header">value of a header</option>
              </select>
              {form.rate_limiting_key_kind === 'header' && (
                <input
                  aria-label="Header name"
                  placeholder="x-user-id"
                  value={form.rate_limiting_header}
                  autocomplete="off"
                  onInput={(e) => set('rate_limiting_header', e.currentTarget.value)}
                />
              )}
            </div>
          </Field>
        </div>
      </fieldset>

      <fieldset class="card">
        <legend>Logs</legend>
        {check('collect_logs', 'Collect logs', 'Store a row (and the bodies) for every request.')}
        <div class="grid-2">
          {text('log_management', 'Row cap', `Most rows kept,${range('log_management')}; empty for no cap.`)}
          {select('log_management_strategy', 'When the cap is reached', [
            ['STOP_INSERTING', 'Stop inserting'],
            ['DELETE_OLDEST', 'Delete the oldest rows'],
          ])}
        </div>
      </fieldset>

      <fieldset class="card">
        <legend>Retries and timeout</legend>
        <div class="grid-2">
          {text('retry_max_attempts', 'Attempts', `${range('retry_max_attempts').trim() || 'How many'}; 1 means no retry.`)}
          {text('retry_delay', 'Delay between attempts (ms)', `Milliseconds,${range('retry_delay')}.`)}
          {select('retry_backoff', 'Backoff', [
            ['constant', 'Constant'],
            ['linear', 'Linear'],
            ['exponential', 'Exponential'],
          ])}
          {text('request_timeout_ms', 'Request timeout (ms)', `Wait for the first byte,${range('request_timeout_ms')}; empty for the server default.`)}
        </div>
      </fieldset>

      <div class="row-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save settings'}
        </button>
        <Notice kind="ok">{saved}</Notice>
      </div>
    </form>
  );
}
