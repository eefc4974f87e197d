import { useEffect, useState } from 'preact/hooks';
import { ApiError, call } from '../api';
import { describedBy, Field, invalidBy } from '../components/Field';
import { Notice } from '../components/Notice';
import { profilesPath, splitProfileError, VALIDATIONS } from '../dlp';
import { getAccount } from '../session';
import type { DlpProfile } from '../types';
import { DlpTestBox } from './DlpTestBox';

/** An entry as typed: the API checks it and says what is wrong. */
interface EntryForm {
  id?: string;
  name: string;
  enabled: boolean;
  regex: string;
  validation: string;
  /** Comma-separated words. */
  context: string;
}

interface Form {
  name: string;
  description: string;
  entries: EntryForm[];
}

interface Errors {
  form?: string;
  name?: string;
  description?: string;
  entries: Record<number, string>;
}

const NO_ERRORS: Errors = { entries: {} };

const newEntry = (): EntryForm => ({ name: '', enabled: true, regex: '', validation: '', context: '' });

function fromProfile(p: DlpProfile | null): Form {
  if (!p) return { name: '', description: '', entries: [newEntry()] };
  return {
    name: p.name,
    description: p.description ?? '',
    entries: p.entries.map((e) => ({
      id: e.id,
      name: e.name,
      enabled: e.enabled,
      regex: e.pattern.regex,
      validation: e.pattern.validation ?? '',
      context: (e.context ?? []).join(', '),
    })),
  };
}

/** The profile's body (Cloudflare One's shape plus `context`); entries keep their ids. */
function toBody(f: Form, id: string | undefined): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: f.name,
    entries: f.entries.map((e) => {
      const context = e.context
        .split(',')
        .map((w) => w.trim())
        .filter(Boolean);
      return {
        ...(e.id ? { id: e.id } : {}),
        name: e.name,
        enabled: e.enabled,
        pattern: e.validation ? { regex: e.regex, validation: e.validation } : { regex: e.regex },
        ...(context.length ? { context } : {}),
      };
    }),
  };
  if (f.description.trim()) body.description = f.description;
  if (id) body.id = id;
  return body;
}

/** The API's messages placed next to what they name. */
function placeErrors(messages: string[]): Errors {
  const out: Errors = { entries: {} };
  for (const message of messages) {
    const { entry, field, text } = splitProfileError(message);
    if (entry !== undefined) out.entries[entry] = out.entries[entry] ? `${out.entries[entry]}; ${text}` : text;
    else if (field) out[field] = text;
    else out.form = out.form ? `${out.form}; ${text}` : text;
  }
  return out;
}

/**
 * Creates or edits a custom DLP profile: its name, description and entries (name, on/off, regex,
 * validator, context words). The API checks every pattern on save; its message appears next to
 * the entry it names. The test box tries the profile as edited, before it is saved.
 */
export function DlpProfileForm({ profile, onSaved, onClose }: { profile: DlpProfile | null; onSaved: (p: DlpProfile) => void; onClose: () => void }) {
  const account = getAccount();
  const [form, setForm] = useState<Form>(() => fromProfile(profile));
  const [errors, setErrors] = useState<Errors>(NO_ERRORS);
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setForm(fromProfile(profile));
    setErrors(NO_ERRORS);
  }, [profile?.id]);

  const setEntry = <K extends keyof EntryForm>(index: number, key: K, value: EntryForm[K]) => {
    setForm((f) => ({ ...f, entries: f.entries.map((e, i) => (i === index ? { ...e, [key]: value } : e)) }));
    setSaved('');
  };

  const showErrors = (found: Errors) => {
    setErrors(found);
    const first = Object.keys(found.entries).map(Number).sort((a, b) => a - b)[0];
    const target = found.name ? 'dlp-name' : first !== undefined ? `dlp-entry-${first}-regex` : '';
    if (target) setTimeout(() => document.getElementById(target)?.focus(), 0);
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setSaved('');
    try {
      const path = profile ? `${profilesPath(account)}/${encodeURIComponent(profile.id)}` : profilesPath(account);
      const res = await call<DlpProfile>(profile ? 'PUT' : 'POST', path, toBody(form, profile?.id));
      setErrors(NO_ERRORS);
      setForm(fromProfile(res.result));
      setSaved(`Profile ${res.result.name} saved (version ${res.result.version}).`);
      onSaved(res.result);
    } catch (err) {
      showErrors(err instanceof ApiError ? placeErrors(err.errors.map((m) => m.message)) : { entries: {}, form: String(err) });
    } finally {
      setBusy(false);
    }
  };

  const title = profile ? `Edit ${profile.name}` : 'New profile';
  return (
    <section class="card" aria-labelledby="dlp-form-title">
      <h2 id="dlp-form-title">{title}</h2>
      {profile && (
        <p class="muted">
          Id <code>{profile.id}</code> (what a gateway’s <code>dlp.profiles</code> names) · version {profile.version}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)} noValidate>
        <Field id="dlp-name" label="Name" error={errors.name}>
          <input
            id="dlp-name"
            value={form.name}
            maxLength={128}
            {...invalidBy('dlp-name', false, errors.name)}
            onInput={(e) => setForm({ ...form, name: e.currentTarget.value })}
          />
        </Field>
        <Field id="dlp-description" label="Description" error={errors.description}>
          <input id="dlp-description" value={form.description} onInput={(e) => setForm({ ...form, description: e.currentTarget.value })} />
        </Field>
        <h3>Entries</h3>
        <ol class="dlp-entries">
          {form.entries.map((entry, i) => {
            const id = `dlp-entry-${i}`;
            const error = errors.entries[i];
            return (
              <li key={entry.id ?? `new-${i}`} data-entry-index={i}>
                <fieldset class={error ? 'dlp-entry field-invalid' : 'dlp-entry'} aria-describedby={error ? `${id}-error` : undefined}>
                  <legend>Entry {i + 1}</legend>
                  {error && (
                    <p class="field-error" id={`${id}-error`} role="alert">
                      {error}
                    </p>
                  )}
                  <div class="dlp-entry-grid">
                    <Field id={`${id}-name`} label="Name">
                      <input id={`${id}-name`} value={entry.name} maxLength={128} onInput={(e) => setEntry(i, 'name', e.currentTarget.value)} />
                    </Field>
                    <Field id={`${id}-regex`} label="Regex" hint="Rust regex syntax; linear time, no look-around or back-references.">
                      <input
                        id={`${id}-regex`}
                        class="mono"
                        value={entry.regex}
                        spellcheck={false}
                        aria-invalid={error ? true : undefined}
                        aria-describedby={describedBy(`${id}-regex`, true, undefined)}
                        onInput={(e) => setEntry(i, 'regex', e.currentTarget.value)}
                      />
                    </Field>
                    <Field id={`${id}-validation`} label="Validation">
                      <select id={`${id}-validation`} value={entry.validation} onChange={(e) => setEntry(i, 'validation', e.currentTarget.value)}>
                        <option value="">None</option>
                        {VALIDATIONS.map((v) => (
                          <option key={v} value={v}>
                            {v}
                          </option>
                        ))}
                      </select>
                    </Field>
                    <Field id={`${id}-context`} label="Context words" hint="Comma-separated; a match then counts only near one of them.">
                      <input
                        id={`${id}-context`}
                        value={entry.context}
                        aria-describedby={describedBy(`${id}-context`, true, undefined)}
                        onInput={(e) => setEntry(i, 'context', e.currentTarget.value)}
                      />
                    </Field>
                  </div>
                  <div class="row-actions">
                    <label class="field-check">
                      <input type="checkbox" checked={entry.enabled} onChange={(e) => setEntry(i, 'enabled', e.currentTarget.checked)} />
                      <span>Enabled</span>
                    </label>
                    <button
                      type="button"
                      class="btn btn-small btn-danger-outline"
                      aria-label={`Remove entry ${i + 1}`}
                      disabled={form.entries.length === 1}
                      onClick={() => {
                        setForm({ ...form, entries: form.entries.filter((_, k) => k !== i) });
                        setErrors(NO_ERRORS);
                      }}
                    >
                      Remove
                    </button>
                  </div>
                </fieldset>
              </li>
            );
          })}
        </ol>
        <div class="row-actions">
          <button type="button" class="btn btn-small" disabled={form.entries.length >= 64} onClick={() => setForm({ ...form, entries: [...form.entries, newEntry()] })}>
            Add entry
          </button>
        </div>
        <Notice kind="error">{errors.form}</Notice>
        <Notice kind="ok">{saved}</Notice>
        <div class="row-actions form-actions">
          <button type="submit" class="btn btn-primary" disabled={busy}>
            Save profile
          </button>
          <button type="button" class="btn" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
      <DlpTestBox
        profile={() => toBody(form, profile?.id)}
        onProfileError={(message) => setErrors(message ? placeErrors([message]) : NO_ERRORS)}
      />
    </section>
  );
}
