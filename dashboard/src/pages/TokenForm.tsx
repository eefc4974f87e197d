import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, call } from '../api';
import { Field, invalidBy } from '../components/Field';
import { Notice } from '../components/Notice';
import type { CalendarPeriod, RunToken, Technique } from '../types';

/** The create form's values, as typed: the API validates them and says what is wrong. */
interface Form {
  name: string;
  gateways: string;
  providers: string;
  models: string;
  expires_at: string;
  metadata: string;
  rate_limit: string;
  rate_interval: string;
  rate_technique: Technique;
  budget: string;
  budget_window: CalendarPeriod | 'seconds';
  budget_seconds: string;
  budget_technique: Technique;
}

const EMPTY: Form = {
  name: '',
  gateways: '',
  providers: '',
  models: '',
  expires_at: '',
  metadata: '',
  rate_limit: '',
  rate_interval: '60',
  rate_technique: 'fixed',
  budget: '',
  budget_window: 'day',
  budget_seconds: '3600',
  budget_technique: 'fixed',
};

/** The body's fields (docs/budgets.md, "The API"), in the order the form shows them. */
const FIELDS = ['name', 'expires_at', 'gateways', 'providers', 'models', 'metadata', 'rate_limit', 'budget'] as const;
type FieldName = (typeof FIELDS)[number];

/** Numbers go as numbers; anything else as typed, so the API's message names the mistake. */
function num(text: string): number | string {
  const t = text.trim();
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
}

/** `a, b c` → `["a", "b", "c"]`; empty → absent (no restriction). */
function list(text: string): string[] | undefined {
  const items = text.split(/[\s,]+/).filter(Boolean);
  return items.length ? items : undefined;
}

/** The request body, or the fields that cannot be sent as typed. */
function toBody(f: Form): { body: Record<string, unknown> } | { errors: Partial<Record<FieldName, string>> } {
  const body: Record<string, unknown> = { name: f.name.trim() };
  const errors: Partial<Record<FieldName, string>> = {};
  for (const key of ['gateways', 'providers', 'models'] as const) {
    const items = list(f[key]);
    if (items) body[key] = items;
  }
  if (f.expires_at.trim()) {
    // A datetime-local value is the browser's local time; the API wants an offset.
    const at = new Date(f.expires_at);
    body.expires_at = Number.isNaN(at.getTime()) ? f.expires_at : at.toISOString();
  }
  if (f.metadata.trim()) {
    try {
      body.metadata = JSON.parse(f.metadata);
    } catch {
      errors.metadata = 'must be a JSON object, like {"team": "search"}';
    }
  }
  if (f.rate_limit.trim()) {
    body.rate_limit = { limit: num(f.rate_limit), interval: num(f.rate_interval), technique: f.rate_technique };
  }
  if (f.budget.trim()) {
    body.budget =
      f.budget_window === 'seconds'
        ? { limit: num(f.budget), window: num(f.budget_seconds), technique: f.budget_technique }
        : { limit: num(f.budget), window: f.budget_window };
  }
  return Object.keys(errors).length ? { errors } : { body };
}

/** Creates a run token with its scope; the API's errors appear next to the fields they name. */
export function TokenForm({ path, onCreated }: { path: string; onCreated: (token: RunToken) => void }) {
  const [form, setForm] = useState<Form>(EMPTY);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof Form>(key: K, value: Form[K]) => setForm((f) => ({ ...f, [key]: value }));

  const showErrors = (found: Record<string, string>) => {
    setErrors(found);
    // Focus the first field the API (or the form) complained about.
    const first = FIELDS.find((f) => found[f]);
    if (first) setTimeout(() => document.getElementById(`token-${first}`)?.focus(), 0);
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const built = toBody(form);
    if ('errors' in built) {
      showErrors(built.errors as Record<string, string>);
      return;
    }
    setBusy(true);
    try {
      const res = await call<RunToken>('POST', path, built.body);
      setErrors({});
      setForm(EMPTY);
      onCreated(res.result);
    } catch (err) {
      showErrors(err instanceof ApiError ? err.byField(FIELDS) : { '': String(err) });
    } finally {
      setBusy(false);
    }
  };

  const text = (key: FieldName & keyof Form, label: string, hint: ComponentChildren, placeholder = '') => (
    <Field id={`token-${key}`} label={label} hint={hint} error={errors[key]}>
      <input
        id={`token-${key}`}
        name={key}
        value={form[key]}
        placeholder={placeholder}
        autocomplete="off"
        {...invalidBy(`token-${key}`, true, errors[key])}
        onInput={(e) => set(key, e.currentTarget.value)}
      />
    </Field>
  );

  const technique = (value: Technique, label: string, onChange: (t: Technique) => void) => (
    <select aria-label={label} value={value} onChange={(e) => onChange(e.currentTarget.value as Technique)}>
      <option value="fixed">fixed</option>
      <option value="sliding">sliding</option>
    </select>
  );

  return (
    <form class="card token-form" onSubmit={submit} noValidate aria-label="Create a run token">
      <h2>New token</h2>
      <Notice kind="error">{errors['']}</Notice>
      <div class="grid-2">
        {text('name', 'Token name', 'What uses it, e.g. billing-service.')}
        <Field id="token-expires_at" label="Expires" hint="Your local time; empty: never." error={errors.expires_at}>
          <input
            id="token-expires_at"
            name="expires_at"
            type="datetime-local"
            value={form.expires_at}
            {...invalidBy('token-expires_at', true, errors.expires_at)}
            onInput={(e) => set('expires_at', e.currentTarget.value)}
          />
        </Field>
      </div>
      <fieldset>
        <legend>Scope</legend>
        <p class="hint">Every field is optional; an empty one restricts nothing. Lists are separated by commas.</p>
        <div class="grid-2">
          {text('gateways', 'Gateways', 'Gateway ids, or * for all.', 'prod, staging')}
          {text('providers', 'Providers', 'Provider globs.', 'openai, azure-*')}
          {text('models', 'Models', 'Globs over the model or provider/model.', 'gpt-4o*, anthropic/claude-*')}
          {text('metadata', 'Metadata', 'A JSON object merged into every request’s metadata.', '{"team": "search"}')}
        </div>
      </fieldset>
      <fieldset>
        <legend>Limits</legend>
        <div class="grid-wide">
          <Field id="token-rate_limit" label="Rate limit" hint="Requests per interval (seconds); empty: none." error={errors.rate_limit}>
            <div class="inline">
              <input
                id="token-rate_limit"
                name="rate_limit"
                inputMode="numeric"
                placeholder="requests"
                autocomplete="off"
                value={form.rate_limit}
                {...invalidBy('token-rate_limit', true, errors.rate_limit)}
                onInput={(e) => set('rate_limit', e.currentTarget.value)}
              />
              <input
                aria-label="Rate limit interval (seconds)"
                inputMode="numeric"
                autocomplete="off"
                value={form.rate_interval}
                onInput={(e) => set('rate_interval', e.currentTarget.value)}
              />
              {technique(form.rate_technique, 'Rate limit technique', (t) => set('rate_technique', t))}
            </div>
          </Field>
          <Field id="token-budget" label="Budget (USD)" hint="Spend per window, held before each request; empty: none." error={errors.budget}>
            <div class="inline">
              <input
                id="token-budget"
                name="budget"
                inputMode="decimal"
                placeholder="USD"
                autocomplete="off"
                value={form.budget}
                {...invalidBy('token-budget', true, errors.budget)}
                onInput={(e) => set('budget', e.currentTarget.value)}
              />
              <select aria-label="Budget window" value={form.budget_window} onChange={(e) => set('budget_window', e.currentTarget.value as Form['budget_window'])}>
                <option value="hour">per hour</option>
                <option value="day">per day (UTC)</option>
                <option value="week">per week (UTC)</option>
                <option value="month">per month (UTC)</option>
                <option value="seconds">per N seconds</option>
              </select>
              {form.budget_window === 'seconds' && (
                <>
                  <input
                    aria-label="Budget window (seconds)"
                    inputMode="numeric"
                    autocomplete="off"
                    value={form.budget_seconds}
                    onInput={(e) => set('budget_seconds', e.currentTarget.value)}
                  />
                  {technique(form.budget_technique, 'Budget technique', (t) => set('budget_technique', t))}
                </>
              )}
            </div>
          </Field>
        </div>
      </fieldset>
      <div class="row-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>
          Create token
        </button>
      </div>
    </form>
  );
}
