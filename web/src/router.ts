// Path routing for the console (the server answers every unknown path with the page): the current
// location as a signal-like store, navigate() with pushState, and link clicks intercepted.

export interface Location {
  readonly path: string;
  readonly search: string;
}

const listeners = new Set<() => void>();

export function currentLocation(): Location {
  return { path: window.location.pathname, search: window.location.search };
}

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  for (const listener of listeners) listener();
}

export function onNavigate(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}

/** A click on an <a href="/…"> that the page handles itself (not a new tab or a download). */
export function interceptLink(event: MouseEvent): void {
  if (
    event.defaultPrevented ||
    event.button !== 0 ||
    event.metaKey ||
    event.ctrlKey ||
    event.shiftKey ||
    event.altKey
  )
    return;
  const anchor = (event.target as Element | null)?.closest?.('a');
  if (anchor === null || anchor === undefined) return;
  const href = anchor.getAttribute('href');
  if (
    href === null ||
    !href.startsWith('/') ||
    href.startsWith('//') ||
    anchor.target === '_blank' ||
    anchor.hasAttribute('download')
  )
    return;
  event.preventDefault();
  navigate(href);
}
