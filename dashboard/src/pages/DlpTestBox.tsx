import { useState } from 'preact/hooks';
import { ApiError, call } from '../api';
import { Notice } from '../components/Notice';
import { highlight, MAX_TEST_BYTES, testPath, utf8Length } from '../dlp';
import { getAccount } from '../session';
import type { DlpTestMatch } from '../types';

interface Props {
  /** The profile being edited, as its (unsaved) body; null when it cannot be built. */
  profile: () => Record<string, unknown>;
  /** An API error about the profile itself (a bad pattern): shown by the editor, next to its entry. */
  onProfileError: (message: string | null) => void;
}

/**
 * "Test this text": runs `POST …/dlp/test` with the profile as edited (unsaved) and shows the text
 * with its matches marked. The text is rendered as text nodes and <mark> elements, never as HTML.
 */
export function DlpTestBox({ profile, onProfileError }: Props) {
  const account = getAccount();
  const [text, setText] = useState('');
  const [result, setResult] = useState<{ text: string; matches: DlpTestMatch[]; truncated: boolean } | null>(null);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const run = async () => {
    setError('');
    if (utf8Length(text) > MAX_TEST_BYTES) {
      setResult(null);
      setError(`The text is longer than ${MAX_TEST_BYTES} bytes; test a shorter one.`);
      return;
    }
    setBusy(true);
    try {
      const res = await call<{ matches: DlpTestMatch[]; truncated: boolean }>('POST', testPath(account), { text, profile: profile() });
      setResult({ text, matches: res.result.matches, truncated: res.result.truncated });
      onProfileError(null);
    } catch (err) {
      setResult(null);
      const message = err instanceof ApiError ? err.message : String(err);
      if (err instanceof ApiError && err.status === 400 && message.startsWith('profile: ')) {
        onProfileError(message);
        setError('The profile has a problem (shown above); fix it to test.');
      } else {
        setError(message);
      }
    } finally {
      setBusy(false);
    }
  };

  const counts = new Map<string, number>();
  for (const m of result?.matches ?? []) counts.set(m.entry_name, (counts.get(m.entry_name) ?? 0) + 1);

  return (
    <div class="dlp-test" role="group" aria-labelledby="dlp-test-title">
      <h3 id="dlp-test-title">Test this text</h3>
      <p class="muted">
        The profile as it is now, saved or not, scans the text with the gateway’s scanner. Nothing is stored.
      </p>
      <div class="field">
        <label for="dlp-test-text">Text</label>
        <textarea id="dlp-test-text" rows={4} value={text} onInput={(e) => setText(e.currentTarget.value)} />
      </div>
      <div class="row-actions">
        <button type="button" class="btn" disabled={busy} onClick={() => void run()}>
          Test
        </button>
      </div>
      <Notice kind="error">{error}</Notice>
      {result && (
        <div class="dlp-test-result" data-matches={result.matches.length}>
          <p role="status">
            {result.matches.length === 0
              ? 'No match.'
              : `${result.matches.length} ${result.matches.length === 1 ? 'match' : 'matches'}: ${[...counts]
                  .map(([name, n]) => `${name} ×${n}`)
                  .join(', ')}${result.truncated ? ' (the first 1,024)' : ''}`}
          </p>
          <pre class="dlp-highlight" aria-label="The text with its matches marked">
            {highlight(result.text, result.matches).map((piece, i) =>
              piece.matches.length === 0 ? (
                piece.text
              ) : (
                <mark key={i} data-entry={piece.matches.map((m) => m.entry).join(' ')} title={piece.matches.map((m) => m.entry_name).join(', ')}>
                  {piece.text}
                </mark>
              ),
            )}
          </pre>
        </div>
      )}
    </div>
  );
}
