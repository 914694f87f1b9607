// Where the cloud places an MPI job's ranks: the live agents that run an MPI rank host (skein worker
// --mpi-listen). `skein mpirun --cloud` asks here, then launches on the hosts itself, as with --hosts.
// Invariant: an agent's MPI token leaves the server only in this answer, and only to tokens that may
// deploy code (a rank runs a program on the agent's machine, as a deployed function does).

import { SkeinError } from '../../errors.ts';
import { agentState } from '../agent-registry.ts';
import type { TokenScope } from '../cloud-store.ts';
import {
  MPI_PLACEMENT,
  MPI_PLACEMENT_BODY,
  type MpiPlacement,
  type MpiPlacementHost,
  type MpiPlacementRequest,
} from './agent-wire.ts';
import type { ApiContext, RouteSpec } from './route-spec.ts';
import { ERROR_RESPONSE, NO_QUERY } from './schemas.ts';

const LAUNCHERS: readonly TokenScope[] = ['deploy'];

const error = (description: string) => ({ description, schema: ERROR_RESPONSE });

/** The MPI placement route, bound to one server's registry. */
export function mpiRoutes(ctx: ApiContext): RouteSpec[] {
  return [
    {
      method: 'POST',
      url: '/api/mpi/placements',
      summary:
        'Hosts for an MPI job: every live agent with an MPI rank host (skein worker --mpi-listen), most free slots first, with its address, token and free slots; the launcher deals the ranks over them.',
      scopes: LAUNCHERS,
      schema: { body: MPI_PLACEMENT_BODY, querystring: NO_QUERY },
      responses: {
        200: { description: 'The hosts.', schema: MPI_PLACEMENT },
        400: error('The request fails validation (SKEIN_CLOUD_INVALID_REQUEST).'),
        401: error('No token, or an unknown or revoked one (SKEIN_CLOUD_UNAUTHORIZED).'),
        403: error('The token may not deploy code (SKEIN_CLOUD_FORBIDDEN).'),
        503: error(
          'No live agent runs an MPI rank host (SKEIN_CLOUD_NO_AGENT, with Retry-After): start skein worker --mpi-listen.',
        ),
      },
      async handler(request, reply) {
        const { ranks } = request.body as MpiPlacementRequest;
        const now = Date.now();
        const hosts: MpiPlacementHost[] = [];
        for (const record of await ctx.registry.list()) {
          const state = agentState(record, ctx.timing.agentTimeout, now);
          if (record.mpi === undefined || (state !== 'ready' && state !== 'busy')) continue;
          hosts.push({
            agent: record.id,
            name: record.name,
            address: record.mpi.address,
            token: record.mpi.token,
            slots: Math.max(0, record.concurrency - record.running.length),
          });
        }
        if (hosts.length === 0) {
          const none = new SkeinError(
            'SKEIN_CLOUD_NO_AGENT',
            `no live agent runs an MPI rank host for a job of ${ranks} rank${ranks === 1 ? '' : 's'}; start agents with \`skein worker --server URL --token T --mpi-listen <address other hosts reach>\` and retry`,
          );
          reply.header('retry-after', '1');
          throw none;
        }
        // Most room first, then by name, so equal agents are dealt in a stable order.
        hosts.sort(
          (a, b) => b.slots - a.slots || a.name.localeCompare(b.name) || a.agent.localeCompare(b.agent),
        );
        const answer: MpiPlacement = { hosts };
        return answer;
      },
    },
  ];
}
