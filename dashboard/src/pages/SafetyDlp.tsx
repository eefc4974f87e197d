import { useState } from 'preact/hooks';
import { ApiError, call, enc, get } from '../api';
import { Link } from '../components/Link';
import { Notice } from '../components/Notice';
import { BUILTIN_PROFILES, DIRECTIONS, type Direction, type DlpForm, dlpBody, dlpForm, policiesOf, profilesPath } from '../dlp';
import { useDraft, useResource } from '../hooks';
import { getAccount } from '../session';
import type { DlpAction, DlpProfile, Gateway } from '../types';

const SIDE_LABEL: Record<Direction, string> = { REQUEST: 'Requests', RESPONSE: 'Responses' };

/**
 * The gateway's DLP (docs/dlp.md), edited as one action and a set of profiles per direction, built
 * in or the account's own; saved as the gateway's `dlp` field, the API's error shown as it says it.
 * The policies as stored are listed below the form.
 */
export function DlpCard({ gateway, onSaved }: { gateway: Gateway; onSaved: () => void }) {
  const account = getAccount();
  const profiles = useResource(() => get<DlpProfile[]>(profilesPath(account)), [account]);
  const [{ form, exact }, setState] = useDraft(() => dlpForm(gateway.dlp), [gateway]);
  const [error, setError] = useState('');
  const [saved, setSaved] = useState('');
  const [busy, setBusy] = useState(false);

  const setForm = (next: DlpForm) => {
    setState({ form: next, exact });
    setSaved('');
  };
  const setSide = (d: Direction, change: Partial<DlpForm['sides'][Direction]>) =>
    setForm({ ...form, sides: { ...form.sides, [d]: { ...form.sides[d], ...change } } });
  const toggle = (d: Direction, id: string, on: boolean) => {
    const current = form.sides[d].profiles;
    setSide(d, { profiles: on ? [...current, id] : current.filter((p) => p !== id) });
  };

  const custom = profiles.data ?? [];
  const names = new Map<string, string>([...BUILTIN_PROFILES.map((p) => [p.id, p.id] as [string, string]), ...custom.map((p) => [p.id, p.name] as [string, string])]);
  // A profile the field names that the list does not have (deleted elsewhere) stays visible.
  const known = new Set(names.keys());
  const unknown = DIRECTIONS.flatMap((d) => form.sides[d].profiles).filter((id, i, all) => !known.has(id) && all.indexOf(id) === i);
  const choices: { id: string; label: string; builtIn: boolean }[] = [
    ...BUILTIN_PROFILES.map((p) => ({ id: p.id, label: `${p.id} (${p.name})`, builtIn: true })),
    ...custom.map((p) => ({ id: p.id, label: p.name, builtIn: false })),
    ...unknown.map((id) => ({ id, label: id, builtIn: false })),
  ];

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setSaved('');
    try {
      const res = await call<Gateway>('PUT', `/accounts/${enc(account)}/ai-gateway/gateways/${enc(gateway.id)}`, {
        dlp: dlpBody(form, gateway.dlp),
      });
      setError('');
      setState(dlpForm(res.result.dlp));
      setSaved(res.result.dlp ? 'DLP settings saved. They apply to the next request.' : 'DLP turned off for this gateway.');
      onSaved();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const policies = policiesOf(gateway.dlp);
  return (
    <section class="card" aria-labelledby="dlp-title">
      <h2 id="dlp-title">Data loss prevention</h2>
      <p class="muted">
        Requests and responses are scanned in the gateway with the profiles chosen for each direction. Flag records the
        match; Block refuses (400); Redact replaces each match with <code>[REDACTED:&lt;entry&gt;]</code> (a stream it
        matches in ends as Block). Custom profiles are made on the <Link href="/dlp">DLP profiles</Link> page.
      </p>
      {!exact && (
        <p class="notice notice-info" role="status">
          This gateway’s DLP has policies this form cannot show exactly (different actions within one direction, or a
          policy turned off). The form shows the strongest action per direction; saving replaces the policies listed below.
        </p>
      )}
      <form onSubmit={(e) => void submit(e)}>
        <label class="field-check">
          <input type="checkbox" checked={form.enabled} onChange={(e) => setForm({ ...form, enabled: e.currentTarget.checked })} />
          <span>DLP enabled</span>
        </label>
        <div class="dlp-sides">
          {DIRECTIONS.map((d) => (
            <fieldset key={d} class="dlp-side" data-direction={d}>
              <legend>{SIDE_LABEL[d]}</legend>
              <div class="field">
                <label for={`dlp-action-${d}`}>Action</label>
                <select
                  id={`dlp-action-${d}`}
                  value={form.sides[d].action}
                  onChange={(e) => setSide(d, { action: e.currentTarget.value as '' | DlpAction })}
                >
                  <option value="">Off</option>
                  <option value="FLAG">Flag</option>
                  <option value="BLOCK">Block</option>
                  <option value="REDACT">Redact</option>
                </select>
              </div>
              <p class="dlp-profiles-label">Profiles</p>
              <ul class="dlp-choices">
                {choices.map((c) => (
                  <li key={c.id}>
                    <label class="field-check">
                      <input
                        type="checkbox"
                        aria-label={`${c.label}, ${SIDE_LABEL[d].toLowerCase()}`}
                        checked={form.sides[d].profiles.includes(c.id)}
                        onChange={(e) => toggle(d, c.id, e.currentTarget.checked)}
                      />
                      <span>
                        {c.label}
                        {!c.builtIn && <span class="badge badge-gray">custom</span>}
                      </span>
                    </label>
                  </li>
                ))}
              </ul>
            </fieldset>
          ))}
        </div>
        <Notice kind="error">{error || profiles.error?.message}</Notice>
        <Notice kind="ok">{saved}</Notice>
        <button type="submit" class="btn" disabled={busy}>
          Save DLP
        </button>
      </form>

      <h3>As stored</h3>
      {policies.length === 0 ? (
        <p class="notice notice-info" role="status">
          No DLP policies on this gateway.
        </p>
      ) : (
        <div class="table-wrap">
          <table class="table" aria-label="DLP policies">
            <thead>
              <tr>
                <th scope="col">Policy</th>
                <th scope="col">Action</th>
                <th scope="col">Checks</th>
                <th scope="col">Profiles</th>
              </tr>
            </thead>
            <tbody>
              {policies.map((p) => (
                <tr key={p.id} data-policy={p.id}>
                  <th scope="row">
                    <code>{p.id}</code>
                    {(!p.enabled || gateway.dlp?.enabled === false) && <span class="badge badge-gray">off</span>}
                  </th>
                  <td>{p.action}</td>
                  <td>{p.check.join(', ').toLowerCase()}</td>
                  <td>{p.profiles.map((id) => names.get(id) ?? id).join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
