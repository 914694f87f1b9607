// Tokens (admin): list (never the secrets), create with scopes (and, for an operator, a tenant) — the
// token text is shown once — and revoke.

import { useState } from 'preact/hooks';
import type { WhoAmIView } from '../../../src/cloud/api/console-schemas.ts';
import type { CreatedTokenView, TokenView } from '../../../src/cloud/api/schemas.ts';
import { del, get, messageOf, post } from '../api.ts';
import { Clip, ErrorNote, Section, useNow, useResource, When } from '../ui.tsx';

const SCOPES = ['read', 'invoke', 'deploy', 'admin', 'agent', 'operator'] as const;
const OPERATOR_ONLY = new Set(['agent', 'operator']);

export function TokensView({ me }: { me: WhoAmIView }) {
  const isAdmin = me.scopes.includes('admin');
  const list = useResource(
    (signal) =>
      isAdmin ? get<{ tokens: TokenView[] }>('/api/tokens', signal) : Promise.resolve({ tokens: [] }),
    [isAdmin],
  );
  const now = useNow(5000);
  const [message, setMessage] = useState<string | undefined>(undefined);
  if (!isAdmin) {
    return (
      <div class="stack">
        <h1 class="page-title">Tokens</h1>
        <p class="card muted">
          Managing tokens needs the admin scope; this token has {me.scopes.join(', ')}.
        </p>
      </div>
    );
  }
  const revoke = async (token: TokenView) => {
    if (!window.confirm(`Revoke token ${token.name} (${token.id})? Every call with it will get 401.`)) return;
    try {
      await del(`/api/tokens/${token.id}`);
      setMessage(`Revoked ${token.name}`);
      list.reload();
    } catch (error) {
      setMessage(messageOf(error));
    }
  };
  return (
    <div class="stack">
      <h1 class="page-title">Tokens</h1>
      <Create me={me} onCreated={list.reload} />
      <ErrorNote error={list.error} />
      {message === undefined ? null : (
        <p role="status" class="small">
          {message}
        </p>
      )}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Scopes</th>
              <th scope="col">Tenant</th>
              <th scope="col">Created</th>
              <th scope="col">State</th>
              <th scope="col">
                <span class="sr-only">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(list.data?.tokens ?? []).map((token) => (
              <tr key={token.id} data-token={token.id}>
                <td>
                  <Clip text={token.name} />
                </td>
                <td>{token.scopes.join(', ')}</td>
                <td>
                  <Clip text={token.tenant} />
                </td>
                <td>
                  <When at={token.createdAt} now={now} />
                </td>
                <td>
                  {token.revokedAt === null ? (
                    <span class="badge state-active">active</span>
                  ) : (
                    <span class="badge state-revoked">revoked</span>
                  )}
                </td>
                <td>
                  {token.revokedAt === null && token.id !== me.id ? (
                    <button
                      type="button"
                      class="secondary"
                      onClick={() => revoke(token)}
                      aria-label={`Revoke ${token.name}`}
                    >
                      Revoke
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function Create({ me, onCreated }: { me: WhoAmIView; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['read']);
  const [tenant, setTenant] = useState('');
  const [made, setMade] = useState<CreatedTokenView | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const body = {
        name: name.trim(),
        scopes,
        ...(me.operator && tenant.trim() !== '' ? { tenant: tenant.trim() } : {}),
      };
      setMade(await post<CreatedTokenView>('/api/tokens', body));
      setName('');
      onCreated();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <Section title="Create a token">
      <form class="create-token" onSubmit={submit}>
        <label>
          Name
          <input
            name="name"
            required
            maxLength={100}
            value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </label>
        <fieldset>
          <legend>Scopes</legend>
          {SCOPES.filter((s) => me.operator || !OPERATOR_ONLY.has(s)).map((scope) => (
            <label key={scope} class="check">
              <input
                type="checkbox"
                name="scope"
                value={scope}
                checked={scopes.includes(scope)}
                onChange={() =>
                  setScopes(scopes.includes(scope) ? scopes.filter((s) => s !== scope) : [...scopes, scope])
                }
              />
              {scope}
            </label>
          ))}
        </fieldset>
        {me.operator ? (
          <label>
            Tenant (empty: {me.tenant})
            <input
              name="tenant"
              pattern="[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?"
              value={tenant}
              onInput={(e) => setTenant((e.target as HTMLInputElement).value)}
            />
          </label>
        ) : null}
        <div class="actions">
          <button type="submit" disabled={scopes.length === 0}>
            Create
          </button>
        </div>
        <ErrorNote error={error} />
        {made === undefined ? null : (
          <div class="made" role="status">
            <p>
              Token <strong>{made.name}</strong> ({made.scopes.join(', ')}, tenant {made.tenant}). Copy it
              now: it is not shown again.
            </p>
            <input
              readOnly
              value={made.token}
              aria-label="The new token"
              data-testid="new-token"
              onFocus={(e) => (e.target as HTMLInputElement).select()}
            />
            <button
              type="button"
              class="secondary"
              onClick={() => void navigator.clipboard?.writeText(made.token)}
            >
              Copy
            </button>
          </div>
        )}
      </form>
    </Section>
  );
}
