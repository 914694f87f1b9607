// Functions: each deployed function with its versions (rollback to any), its settings, latency and
// error rate of its synchronous calls (GET /api/console/functions/stats), an invoke form that sends a
// JSON body, and a deploy form that uploads a bundle (an ES module, as skein deploy makes) from a file.

import { useEffect, useRef, useState } from 'preact/hooks';
import type { FunctionStatsView } from '../../../src/cloud/api/console-function-stats.ts';
import type { WhoAmIView } from '../../../src/cloud/api/console-schemas.ts';
import type { AsyncInvokeView, DeploymentView, FunctionView } from '../../../src/cloud/api/schemas.ts';
import { api, get, messageOf, post } from '../api.ts';
import { formatDuration, formatJson } from '../lib/format.ts';
import { ErrorNote, Section, useNow, useResource, When } from '../ui.tsx';

const canDeploy = (me: WhoAmIView) => me.scopes.some((s) => s === 'deploy' || s === 'admin');

export function FunctionsView({ me }: { me: WhoAmIView }) {
  const list = useResource((signal) => get<{ functions: FunctionView[] }>('/api/functions', signal), []);
  const stats = useResource(
    (signal) =>
      get<{ functions: FunctionStatsView[]; windowMs: number }>('/api/console/functions/stats', signal),
    [],
  );
  const now = useNow(5000);
  useEffect(() => {
    const timer = setInterval(() => {
      list.reload();
      stats.reload();
    }, 5000);
    return () => clearInterval(timer);
  }, [list.reload, stats.reload]);
  const statsOf = (fn: FunctionView) =>
    stats.data?.functions.find((s) => s.name === fn.name && s.tenant === fn.tenant);
  const reloadAll = () => {
    list.reload();
    stats.reload();
  };
  return (
    <div class="stack">
      <h1 class="page-title">Functions</h1>
      {canDeploy(me) ? <Deploy onDeployed={reloadAll} /> : null}
      <ErrorNote error={list.error} />
      {list.data?.functions.length === 0 ? (
        <p class="card muted">No functions deployed yet: deploy a bundle above, or run skein deploy.</p>
      ) : null}
      {(list.data?.functions ?? []).map((fn) => (
        <FunctionCard
          key={`${fn.tenant}/${fn.name}`}
          fn={fn}
          stats={statsOf(fn)}
          now={now}
          me={me}
          onChange={reloadAll}
        />
      ))}
    </div>
  );
}

function FunctionCard({
  fn,
  stats,
  now,
  me,
  onChange,
}: {
  fn: FunctionView;
  stats: FunctionStatsView | undefined;
  now: number;
  me: WhoAmIView;
  onChange: () => void;
}) {
  const [message, setMessage] = useState<string | undefined>(undefined);
  const rollback = async (hash: string) => {
    try {
      await post(`/api/functions/${encodeURIComponent(fn.name)}/rollback`, { hash });
      setMessage(`Now at ${hash.slice(0, 12)}`);
      onChange();
    } catch (error) {
      setMessage(messageOf(error));
    }
  };
  const errorRate =
    stats === undefined || stats.calls - stats.rejected === 0
      ? null
      : stats.errors / (stats.calls - stats.rejected);
  return (
    <section class="card" aria-label={`Function ${fn.name}`} data-function={fn.name}>
      <header class="card-head">
        <h2 class="clip" title={fn.name}>
          {fn.name}
        </h2>
        <span class="small muted">
          v{fn.version} · <code>{fn.hash.slice(0, 12)}</code> · {fn.export}{' '}
          {me.operator ? `· ${fn.tenant}` : ''}
        </span>
      </header>
      <dl class="facts">
        <dt>Calls (15 min)</dt>
        <dd>{stats?.calls ?? 0}</dd>
        <dt>Latency p50 / p95</dt>
        <dd>
          {formatDuration(stats?.p50Ms)} / {formatDuration(stats?.p95Ms)}
        </dd>
        <dt>Error rate</dt>
        <dd>{errorRate === null ? '—' : `${(errorRate * 100).toFixed(1)} %`}</dd>
        <dt>Now</dt>
        <dd>
          {fn.running} running, {fn.waiting} waiting, {fn.warm ? 'warm' : 'cold'}
        </dd>
        <dt>Settings</dt>
        <dd>
          {fn.settings.isolation},{' '}
          {fn.settings.memoryMb === null ? 'no memory limit' : `${fn.settings.memoryMb} MiB`}, timeout{' '}
          {formatDuration(fn.settings.timeout)}, concurrency {fn.settings.concurrency}, queue{' '}
          {fn.settings.queue}
        </dd>
        <dt>Updated</dt>
        <dd>
          <When at={fn.updatedAt} now={now} />
        </dd>
      </dl>
      <Invoke fn={fn} onCalled={onChange} />
      <details>
        <summary>Versions ({fn.versions.length})</summary>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Hash</th>
                <th scope="col">Deployed</th>
                <th scope="col">
                  <span class="sr-only">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {[...fn.versions].reverse().map((v) => (
                <tr key={v.version}>
                  <td>v{v.version}</td>
                  <td>
                    <code class="clip" title={v.hash}>
                      {v.hash.slice(0, 16)}
                    </code>
                  </td>
                  <td>
                    <When at={v.deployedAt} now={now} />
                  </td>
                  <td>
                    {v.hash === fn.hash ? (
                      <span class="small muted">current</span>
                    ) : canDeploy(me) ? (
                      <button type="button" class="secondary" onClick={() => rollback(v.hash)}>
                        Roll back to v{v.version}
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {message === undefined ? null : (
          <p role="status" class="small">
            {message}
          </p>
        )}
      </details>
    </section>
  );
}

function Invoke({ fn, onCalled }: { fn: FunctionView; onCalled: () => void }) {
  const [args, setArgs] = useState('[]');
  const [asJob, setAsJob] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string; jobId?: string } | undefined>(
    undefined,
  );
  const [busy, setBusy] = useState(false);
  const id = `invoke-${fn.tenant}-${fn.name}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const submit = async (event: Event) => {
    event.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(args);
    } catch (error) {
      setOutcome({ ok: false, text: `The arguments are not JSON: ${messageOf(error)}` });
      return;
    }
    if (!Array.isArray(parsed)) {
      setOutcome({ ok: false, text: 'The arguments must be a JSON array, e.g. ["world", 3].' });
      return;
    }
    setBusy(true);
    const started = performance.now();
    try {
      if (asJob) {
        const made = await api<AsyncInvokeView>('POST', `/fn/${encodeURIComponent(fn.name)}?async=1`, {
          args: parsed,
        });
        setOutcome({ ok: true, text: `Job ${made.id} queued`, jobId: made.id });
      } else {
        const result = await api<unknown>('POST', `/fn/${encodeURIComponent(fn.name)}`, { args: parsed });
        setOutcome({
          ok: true,
          text: `${formatJson(result)}\n(${formatDuration(performance.now() - started)})`,
        });
      }
    } catch (error) {
      setOutcome({ ok: false, text: messageOf(error) });
    } finally {
      setBusy(false);
      onCalled();
    }
  };
  return (
    <form class="invoke" onSubmit={submit} aria-label={`Invoke ${fn.name}`}>
      <label for={id}>Arguments (JSON array)</label>
      <textarea
        id={id}
        name="args"
        rows={2}
        spellcheck={false}
        value={args}
        onInput={(e) => setArgs((e.target as HTMLTextAreaElement).value)}
      />
      <div class="actions">
        <button type="submit" disabled={busy}>
          {busy ? 'Calling…' : 'Invoke'}
        </button>
        <label class="check">
          <input
            type="checkbox"
            checked={asJob}
            onChange={(e) => setAsJob((e.target as HTMLInputElement).checked)}
          />
          As a job (async)
        </label>
      </div>
      {outcome === undefined ? null : (
        <pre
          class={outcome.ok ? 'json result' : 'json result error'}
          role="status"
          data-testid="invoke-result"
        >
          {outcome.text}
          {outcome.jobId === undefined ? null : (
            <>
              {' '}
              <a href={`/jobs/${outcome.jobId}`}>open</a>
            </>
          )}
        </pre>
      )}
    </form>
  );
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function Deploy({ onDeployed }: { onDeployed: () => void }) {
  const [file, setFile] = useState<File | undefined>(undefined);
  const input = useRef<HTMLInputElement>(null);
  const [prefix, setPrefix] = useState('');
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (file === undefined) {
      setOutcome({
        ok: false,
        text: 'Choose a bundle file: an ES module whose exports are task(import.meta, fn) references (skein deploy --help).',
      });
      return;
    }
    setBusy(true);
    try {
      const bundle = await file.text();
      const hash = await sha256Hex(bundle);
      const made = await post<DeploymentView>('/api/deployments', {
        hash,
        bundle,
        ...(prefix.trim() === '' ? {} : { name: prefix.trim() }),
      });
      setOutcome({
        ok: true,
        text: `Deployed ${made.functions.map((f) => f.name).join(', ')} (${hash.slice(0, 12)})`,
      });
      // Choosing a file again (even the same path) must fire a change and read it anew.
      setFile(undefined);
      if (input.current !== null) input.current.value = '';
      onDeployed();
    } catch (error) {
      setOutcome({ ok: false, text: messageOf(error) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Deploy">
      <form class="deploy" onSubmit={submit} aria-label="Deploy a bundle">
        <label>
          Bundle (.mjs or .js, one ES module)
          <input
            type="file"
            ref={input}
            name="bundle"
            accept=".mjs,.js,text/javascript"
            onChange={(e) => setFile((e.target as HTMLInputElement).files?.[0])}
          />
        </label>
        <label>
          Name prefix (optional)
          <input
            name="prefix"
            value={prefix}
            pattern="[A-Za-z0-9_-]{1,64}"
            onInput={(e) => setPrefix((e.target as HTMLInputElement).value)}
          />
        </label>
        <div class="actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Deploying…' : 'Deploy'}
          </button>
        </div>
        {outcome === undefined ? null : (
          <p class={outcome.ok ? 'small' : 'error'} role="status" data-testid="deploy-result">
            {outcome.text}
          </p>
        )}
      </form>
    </Section>
  );
}
