import { useState } from 'preact/hooks';
import { call, get } from '../api';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { Notice } from '../components/Notice';
import { BUILTIN_PROFILES, profilesPath } from '../dlp';
import { fmtTime } from '../format';
import { useResource, useTitle } from '../hooks';
import { getAccount } from '../session';
import type { DlpProfile } from '../types';
import { DlpProfileForm } from './DlpProfileForm';

/**
 * The account's custom DLP profiles (docs/dlp.md, "Custom profiles"): listed, created, edited
 * with a test box, and deleted after confirmation (the API refuses while a gateway uses one).
 */
export function DlpProfilesPage() {
  useTitle('DLP profiles');
  const account = getAccount();
  const path = profilesPath(account);
  const list = useResource(() => get<DlpProfile[]>(path), [path]);
  // null: no editor open; 'new': a new profile; else the id being edited.
  const [editing, setEditing] = useState<string | null>(null);
  // The profile just saved, until the list read again has it.
  const [fresh, setFresh] = useState<DlpProfile | null>(null);
  const [deleting, setDeleting] = useState<DlpProfile | null>(null);
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const current =
    editing && editing !== 'new' ? (list.data ?? []).find((p) => p.id === editing) ?? (fresh?.id === editing ? fresh : null) : null;

  const remove = async () => {
    if (!deleting) return;
    setBusy(true);
    setError('');
    try {
      await call('DELETE', `${path}/${encodeURIComponent(deleting.id)}`);
      if (editing === deleting.id) setEditing(null);
      setMessage(`Profile ${deleting.name} deleted.`);
      await list.reload();
    } catch (err) {
      setMessage('');
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setDeleting(null);
      setBusy(false);
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1>DLP profiles</h1>
        <p class="muted">
          Custom profiles of account <strong>{account}</strong>: regex entries, each with an optional validator and context
          words. A gateway scans with them (and with the built-in {BUILTIN_PROFILES.map((p) => p.id).join(', ')}) when its
          Safety tab names them. Matches are recorded by entry id; the matched text is never kept.
        </p>
      </div>

      <Notice kind="ok">{message}</Notice>
      <Notice kind="error">{error || list.error?.message}</Notice>

      <div class="stack">
        <div class="row-actions">
          <button
            type="button"
            class="btn btn-primary"
            onClick={() => {
              setEditing('new');
              setMessage('');
            }}
          >
            New profile
          </button>
        </div>
        {list.data && (
          <div class="table-wrap">
            <table class="table" aria-label="Custom DLP profiles">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Entries</th>
                  <th scope="col">Id</th>
                  <th scope="col" class="num">
                    Version
                  </th>
                  <th scope="col">Updated</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.data.length === 0 && (
                  <tr>
                    <td colSpan={6} class="empty">
                      No custom profiles yet.
                    </td>
                  </tr>
                )}
                {list.data.map((p) => (
                  <tr key={p.id} data-profile={p.id} aria-current={p.id === editing ? 'true' : undefined} class={p.id === editing ? 'row-current' : undefined}>
                    <th scope="row">{p.name}</th>
                    <td>
                      {p.entries.map((e, i) => (
                        <span key={e.id}>
                          {i > 0 && ', '}
                          {e.enabled ? e.name : <s title="disabled">{e.name}</s>}
                        </span>
                      ))}
                    </td>
                    <td>
                      <code>{p.id}</code>
                    </td>
                    <td class="num">{p.version}</td>
                    <td class="nowrap">{p.updated_at ? fmtTime(p.updated_at) : '—'}</td>
                    <td class="actions">
                      <div class="row-actions">
                        <button type="button" class="btn btn-small" aria-label={`Edit profile ${p.name}`} onClick={() => setEditing(p.id)}>
                          Edit
                        </button>
                        <button
                          type="button"
                          class="btn btn-small btn-danger-outline"
                          aria-label={`Delete profile ${p.name}`}
                          onClick={() => setDeleting(p)}
                        >
                          Delete
                        </button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}

        {editing && (editing === 'new' || current) && (
          <DlpProfileForm
            profile={current}
            onSaved={(p) => {
              setMessage('');
              setFresh(p);
              setEditing(p.id);
              void list.reload();
            }}
            onClose={() => setEditing(null)}
          />
        )}
      </div>

      {deleting && (
        <ConfirmDialog title={`Delete profile ${deleting.name}?`} confirmLabel="Delete profile" onConfirm={() => void remove()} onCancel={() => setDeleting(null)} busy={busy}>
          <p>
            Profile <code>{deleting.id}</code> and its {deleting.entries.length} {deleting.entries.length === 1 ? 'entry' : 'entries'} are
            removed. A profile a gateway still names cannot be deleted: take it off the gateway’s Safety tab first.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
