// Agents: every agent that registered (skein worker): state, machine, cores, memory, GPU adapters,
// labels, load and the jobs it runs now, last heartbeat; lost ones first. Live: agent events reload it.

import { useEffect, useState } from 'preact/hooks';
import type { AgentView } from '../../../src/cloud/api/agent-wire.ts';
import { get } from '../api.ts';
import { formatBytes } from '../lib/format.ts';
import { live } from '../live.ts';
import { Clip, ErrorNote, StateBadge, useNow, useResource, useThrottle, When } from '../ui.tsx';

const ORDER: Record<string, number> = { lost: 0, busy: 1, ready: 2, stopped: 3 };

export function AgentsView() {
  const agents = useResource((signal) => get<{ agents: AgentView[] }>('/api/agents', signal), []);
  const reload = useThrottle(agents.reload, 500);
  const [showStopped, setShowStopped] = useState(false);
  const now = useNow(1000);
  useEffect(() => live.subscribe({ agent: reload }), [reload]);
  useEffect(() => {
    const timer = setInterval(agents.reload, 5000);
    return () => clearInterval(timer);
  }, [agents.reload]);
  const all = agents.data?.agents ?? [];
  const shown = all
    .filter((a) => showStopped || a.state !== 'stopped')
    .sort((a, b) => (ORDER[a.state] ?? 9) - (ORDER[b.state] ?? 9) || a.name.localeCompare(b.name));
  const stopped = all.filter((a) => a.state === 'stopped').length;
  return (
    <div class="stack">
      <h1 class="page-title">Agents</h1>
      <div class="toolbar">
        <span class="small muted" role="status" data-testid="agents-summary">
          {all.length - stopped} running or lost, {stopped} stopped
        </span>
        <label class="check">
          <input
            type="checkbox"
            checked={showStopped}
            onChange={(e) => setShowStopped((e.target as HTMLInputElement).checked)}
          />
          Show stopped
        </label>
      </div>
      <ErrorNote error={agents.error} />
      {shown.length === 0 ? (
        <p class="card muted">
          No agents. Start one with skein worker --server URL --token T (an agent-scoped token).
        </p>
      ) : null}
      <ul class="agent-cards">
        {shown.map((agent) => (
          <li
            key={agent.id}
            class={agent.state === 'lost' ? 'card agent is-lost' : 'card agent'}
            data-agent={agent.id}
            data-state={agent.state}
          >
            <header class="card-head">
              <h2 class="clip" title={agent.name}>
                {agent.name}
              </h2>
              <StateBadge state={agent.state} />
            </header>
            <dl class="facts">
              <dt>Id</dt>
              <dd>
                <Clip text={agent.id} />
              </dd>
              <dt>Host</dt>
              <dd>
                <Clip text={agent.host} />
              </dd>
              <dt>Cores / memory</dt>
              <dd>
                {agent.cores} / {formatBytes(agent.memory)}
              </dd>
              <dt>GPUs</dt>
              <dd>
                {agent.gpus.length === 0 ? 'none found' : agent.gpus.map((g) => <Clip key={g} text={g} />)}
              </dd>
              <dt>Load</dt>
              <dd>
                <meter
                  min={0}
                  max={Math.max(1, agent.concurrency)}
                  value={agent.runningJobs.length}
                  aria-label="running jobs of its concurrency"
                />{' '}
                {agent.runningJobs.length}/{agent.concurrency}
              </dd>
              <dt>Heartbeat</dt>
              <dd>
                <When at={agent.lastHeartbeat} now={now} />
              </dd>
              <dt>Registered</dt>
              <dd>
                <When at={agent.registeredAt} now={now} />
              </dd>
              {Object.keys(agent.labels).length === 0 ? null : (
                <>
                  <dt>Labels</dt>
                  <dd class="labels">
                    {Object.entries(agent.labels).map(([k, v]) => (
                      <code key={k} class="clip" title={`${k}=${v}`}>
                        {k}={v}
                      </code>
                    ))}
                  </dd>
                </>
              )}
            </dl>
            {agent.runningJobs.length === 0 ? null : (
              <details>
                <summary>Running now ({agent.runningJobs.length})</summary>
                <ul class="children">
                  {agent.runningJobs.map((id) => (
                    <li key={id}>
                      <a href={`/jobs/${id}`}>
                        <code>{id}</code>
                      </a>
                    </li>
                  ))}
                </ul>
              </details>
            )}
            <p class="small">
              <a href={`/jobs?agent=${encodeURIComponent(agent.id)}`}>Its jobs</a>
            </p>
          </li>
        ))}
      </ul>
    </div>
  );
}
