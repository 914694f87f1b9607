// The function bench/cloud.ts deploys: copied into a temporary project as fns.ts, bundled by
// `skein deploy` and called through POST /fn/echo. It answers its argument, as the bare Fastify route does.

import { task } from 'skein';

export const echo = task(import.meta, (value: unknown): unknown => value);
