// The console shell: nothing but the login form without a token; with one, the navigation, the live
// connection's status and the view the path names. A 401 anywhere forgets the token (api.ts) and the
// login form comes back.

import { useEffect, useRef, useState } from 'preact/hooks';
import type { WhoAmIView } from '../../src/cloud/api/console-schemas.ts';
import { currentToken, get, messageOf, onTokenChange, setToken } from './api.ts';
import { live } from './live.ts';
import { currentLocation, interceptLink, onNavigate } from './router.ts';
import { AgentsView } from './views/agents.tsx';
import { FunctionsView } from './views/functions.tsx';
import { JobView } from './views/job.tsx';
import { JobsView } from './views/jobs.tsx';
import { Login } from './views/login.tsx';
import { Overview } from './views/overview.tsx';
import { SchedulesView } from './views/schedules.tsx';
import { TimelineView } from './views/timeline.tsx';
import { TokensView } from './views/tokens.tsx';

const NAV = [
  ['/', 'Overview'],
  ['/jobs', 'Jobs'],
  ['/timeline', 'Timeline'],
  ['/functions', 'Functions'],
  ['/agents', 'Agents'],
  ['/schedules', 'Schedules'],
  ['/tokens', 'Tokens'],
] as const;

function useLocation() {
  const [location, setLocation] = useState(currentLocation());
  useEffect(() => onNavigate(() => setLocation(currentLocation())), []);
  return location;
}

export function App() {
  const [token, setTokenState] = useState(currentToken());
  const [me, setMe] = useState<WhoAmIView | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const location = useLocation();
  const [connected, setConnected] = useState(false);

  useEffect(() => onTokenChange(() => setTokenState(currentToken())), []);
  useEffect(() => {
    setMe(undefined);
    if (token === null) {
      live.stop();
      return;
    }
    let cancelled = false;
    get<WhoAmIView>('/api/console/whoami').then(
      (who) => {
        if (cancelled) return;
        setMe(who);
        setProblem(undefined);
        live.start();
      },
      (error: unknown) => {
        if (cancelled) return;
        setProblem(messageOf(error));
        setToken(null);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [token]);
  useEffect(() => live.subscribe({ status: setConnected }), []);
  useEffect(() => {
    document.addEventListener('click', interceptLink);
    return () => document.removeEventListener('click', interceptLink);
  }, []);

  // After a navigation, focus moves to the new page (screen readers read it; Tab goes on from there).
  const firstPath = useRef(location.path);
  useEffect(() => {
    if (location.path === firstPath.current) return;
    firstPath.current = '';
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [location.path]);

  // On a narrow screen the navigation scrolls sideways: keep the current section in view.
  useEffect(() => {
    document
      .querySelector('.top nav [aria-current="page"]')
      ?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, [location.path, me]);

  if (token === null) return <Login problem={problem} />;
  if (me === undefined) return <p class="loading-page">Checking the token…</p>;

  const path = location.path;
  const section = NAV.find(([href]) =>
    href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`),
  );
  let view = <NotFound path={path} />;
  if (path === '/') view = <Overview me={me} />;
  else if (path === '/jobs') view = <JobsView search={location.search} />;
  else if (path.startsWith('/jobs/')) view = <JobView id={decodeURIComponent(path.slice('/jobs/'.length))} />;
  else if (path === '/timeline') view = <TimelineView />;
  else if (path === '/functions') view = <FunctionsView me={me} />;
  else if (path === '/agents') view = <AgentsView />;
  else if (path === '/schedules') view = <SchedulesView />;
  else if (path === '/tokens') view = <TokensView me={me} />;

  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/">
          Skein
        </a>
        <nav aria-label="Sections">
          <ul>
            {NAV.map(([href, label]) => (
              <li key={href}>
                <a href={href} aria-current={section?.[0] === href ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span
            class={connected ? 'dot on' : 'dot'}
            role="status"
            aria-label={connected ? 'live: connected' : 'live: reconnecting'}
            title={connected ? 'Live' : 'Reconnecting'}
          />
          <span class="clip" title={`${me.name} (${me.tenant}; ${me.scopes.join(', ')})`}>
            {me.name}
          </span>
          <button type="button" class="link" onClick={() => setToken(null)}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {view}
      </main>
    </div>
  );
}

function NotFound({ path }: { path: string }) {
  return (
    <section class="card">
      <h1>Not found</h1>
      <p>
        The console has no page <code>{path}</code>. <a href="/">Go to the overview</a>.
      </p>
    </section>
  );
}
