import { get } from '../api';
import { BUILTIN_PROFILES, logDlp, profilesPath } from '../dlp';
import { useResource } from '../hooks';
import { getAccount } from '../session';
import type { DlpProfile } from '../types';

/**
 * What DLP found in a logged request (docs/dlp.md): the action taken and, per direction and
 * profile, the entries that matched, by id (custom profiles and entries also by name). The row
 * never holds the matched text, so neither does this.
 */
export function LogDlp({ text }: { text: string | null | undefined }) {
  const account = getAccount();
  const dlp = logDlp(text);
  const builtIn = new Set(BUILTIN_PROFILES.map((p) => p.id));
  const needsNames = !!dlp?.findings.some((f) => !builtIn.has(f.profile?.profile_id));
  const custom = useResource(async () => (needsNames ? get<DlpProfile[]>(profilesPath(account)) : []), [account, needsNames]);
  if (!dlp) return null;
  const profile = (id: string) => custom.data?.find((p) => p.id === id);
  return (
    <section class="card" aria-labelledby="dlp-log-title" data-dlp-action={dlp.action}>
      <h2 id="dlp-log-title">Data loss prevention</h2>
      <p>
        Action <span class={dlp.action === 'FLAG' ? 'badge badge-blue' : 'badge badge-gray'}>{dlp.action}</span>
        {dlp.matches.length > 0 && (
          <>
            {' '}
            · matched{' '}
            {dlp.matches.map((m, i) => (
              <span key={m}>
                {i > 0 && ', '}
                <code data-dlp-match={m}>{m}</code>
              </span>
            ))}
          </>
        )}
      </p>
      {dlp.findings.length > 0 && (
        <div class="table-wrap">
          <table class="table" aria-label="DLP findings">
            <thead>
              <tr>
                <th scope="col">Checked</th>
                <th scope="col">Profile</th>
                <th scope="col">Entries</th>
                <th scope="col">Policies</th>
              </tr>
            </thead>
            <tbody>
              {dlp.findings.map((f, i) => {
                const id = f.profile?.profile_id ?? '';
                const named = profile(id);
                return (
                  <tr key={i} data-profile={id}>
                    <td>{String(f.check).toLowerCase()}</td>
                    <td>
                      {named ? `${named.name} ` : ''}
                      <code>{id}</code>
                    </td>
                    <td>
                      {(f.profile?.entry_ids ?? []).map((entry, k) => {
                        const name = named?.entries.find((e) => e.id === entry)?.name;
                        return (
                          <span key={entry}>
                            {k > 0 && ', '}
                            {name ? `${name} ` : ''}
                            <code>{entry}</code>
                          </span>
                        );
                      })}
                    </td>
                    <td>{(f.policy_ids ?? []).join(', ')}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
