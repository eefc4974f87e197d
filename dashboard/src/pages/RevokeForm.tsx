import { useState } from 'preact/hooks';
import { Field, invalidBy } from '../components/Field';
import type { RunToken } from '../types';

/**
 * Finds the token to revoke by its id or its name (as `tollgate token revoke` does): an id
 * wins; a name shared by several tokens must be given as an id.
 */
export function findToken(tokens: RunToken[], text: string): RunToken | string {
  const wanted = text.trim();
  if (!wanted) return 'Enter a token’s name or id.';
  const byId = tokens.find((t) => t.id === wanted);
  if (byId) return byId;
  const named = tokens.filter((t) => t.name === wanted);
  if (named.length === 1) return named[0];
  if (named.length > 1) return `${named.length} tokens are named ${wanted}: give the id of the one to revoke.`;
  return `No token has the name or id ${wanted}.`;
}

/** A name or id, then the same confirmation as a row's Revoke button. */
export function RevokeForm({ tokens, onPick }: { tokens: RunToken[]; onPick: (token: RunToken) => void }) {
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  return (
    <form
      class="card inline-form"
      aria-label="Revoke a run token by name or id"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        const found = findToken(tokens, text);
        if (typeof found === 'string') {
          setError(found);
          return;
        }
        setError('');
        setText('');
        onPick(found);
      }}
    >
      <Field id="revoke-by" label="Revoke by name or id" hint="The token is looked up in the list below." error={error}>
        <input
          id="revoke-by"
          autocomplete="off"
          value={text}
          {...invalidBy('revoke-by', true, error)}
          onInput={(e) => setText(e.currentTarget.value)}
        />
      </Field>
      <button type="submit" class="btn btn-danger-outline">
        Revoke…
      </button>
    </form>
  );
}
