// The login form: a token (skein up printed one and saved it in .skein/credentials.json), checked
// against the server before anything else shows.

import { useState } from 'preact/hooks';
import { messageOf, setToken } from '../api.ts';

export function Login({ problem }: { problem: string | undefined }) {
  const [value, setValue] = useState('');
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<string | undefined>(problem);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    const text = value.trim();
    if (text === '') {
      setError('Paste a token: skein up prints one, and saves it in .skein/credentials.json.');
      return;
    }
    setBusy(true);
    try {
      const response = await fetch('/api/console/whoami', { headers: { authorization: `Bearer ${text}` } });
      if (!response.ok) {
        const body = (await response.json().catch(() => ({}))) as { message?: string; code?: string };
        setError(
          `${body.message ?? `${response.status} ${response.statusText}`}${body.code ? ` (${body.code})` : ''}`,
        );
        return;
      }
      setToken(text, remember);
    } catch (caught) {
      setError(messageOf(caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login">
      <form onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Skein console</h1>
        <p>Log in with an API token.</p>
        <label for="token">Token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          aria-describedby="token-help"
          required
        />
        <p id="token-help" class="muted small">
          <code>npx skein up</code> prints an operator token and saves it in{' '}
          <code>.skein/credentials.json</code>;<code> skein token create</code> makes others.
        </p>
        <label class="check">
          <input
            type="checkbox"
            checked={remember}
            onChange={(e) => setRemember((e.target as HTMLInputElement).checked)}
          />
          Remember on this device
        </label>
        {error === undefined ? null : (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
