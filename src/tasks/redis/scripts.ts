// The broker's Lua scripts: each lua/<verb-noun>.lua file, behind the shared helpers of lua/include/
// (job-state, enqueue-jobs, settle-job, claim-jobs, handoff, in that order: a later one calls the earlier
// ones), defined on an ioredis client with defineCommand (EVALSHA, falling back to EVAL once after a
// SCRIPT FLUSH or a restart). Every state change of the broker is one of these.

import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

export const SCRIPT_NAMES = [
  'enqueue-jobs',
  'claim-jobs',
  'extend-leases',
  'complete-job',
  'fail-job',
  'settle-and-claim',
  'release-job',
  'report-progress',
  'recover-leases',
  'cancel-job',
  'mark-cancelled',
  'retry-job',
  'purge-expired',
  'record-heartbeat',
  'withdraw-handoff',
] as const;

export type ScriptName = (typeof SCRIPT_NAMES)[number];

type Argument = string | number | Buffer;

/** Calls a script by name with its keys and arguments; `buffers` asks for Buffer replies. */
export type RunScript = (
  name: ScriptName,
  keys: readonly string[],
  args: readonly Argument[],
  buffers?: boolean,
) => Promise<unknown>;

const LUA_DIR = new URL('./lua/', import.meta.url);
/** The helpers prepended to every script, in dependency order. */
const INCLUDES = ['job-state', 'enqueue-jobs', 'settle-job', 'claim-jobs', 'handoff'] as const;

let sources: ReadonlyMap<ScriptName, string> | undefined;

/** What marks a script (or an include) as calling into an include: a call of one of its functions. */
const INCLUDE_USE: Readonly<Record<(typeof INCLUDES)[number], RegExp>> = {
  'job-state': /./,
  'enqueue-jobs': /\benqueue_jobs\(/,
  'settle-job': /\b(complete_job|fail_job)\(/,
  'claim-jobs': /\b(claim_jobs|read_claim_filters|frame_claimed)\(/,
  handoff: /\b(update_idle|hand_off)\(/,
};

function scriptSources(): ReadonlyMap<ScriptName, string> {
  if (sources === undefined) {
    const includes = INCLUDES.map((name) => ({
      name,
      lua: readFileSync(new URL(`include/${name}.lua`, LUA_DIR), 'utf8'),
    }));
    sources = new Map(
      SCRIPT_NAMES.map((name) => {
        const body = readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
        // Only the includes the script calls into, or that an include it needs calls into (job-state
        // always): defining every helper on every call cost a single-job script about a seventh of its
        // time. A later include only calls earlier ones, so one pass from the last finds them all.
        const needed: string[] = [];
        let callers = body;
        for (const include of [...includes].reverse()) {
          if (!INCLUDE_USE[include.name].test(callers)) continue;
          needed.unshift(include.lua);
          callers += include.lua;
        }
        const helpers = needed.join('\n');
        return [
          name,
          // The body runs as a function so that every return of it passes through flush_events
          // (include/job-state.lua): a script's events and finished ids are written once, at its end.
          `${helpers}\nlocal function script_body()\n${body}\nend\nlocal reply = script_body()\nflush_events()\nreturn reply`,
        ];
      }),
    );
  }
  return sources;
}

/** The command name a script gets on the client: `skein` + the file name in camel case. */
function commandName(name: ScriptName): string {
  return `skein${name.replace(/(^|-)([a-z])/g, (_, __, letter: string) => letter.toUpperCase())}`;
}

/** Defines every script on `client` (idempotent) and returns a caller for them. */
export function defineScripts(client: Redis): RunScript {
  const commands = client as unknown as Record<string, (args: (Argument | number)[]) => Promise<unknown>>;
  for (const [name, lua] of scriptSources()) {
    if (typeof commands[commandName(name)] !== 'function') client.defineCommand(commandName(name), { lua });
  }
  const names = new Map(SCRIPT_NAMES.map((name) => [name, commandName(name)]));
  return (name, keys, args, buffers = false) => {
    const command = commands[`${names.get(name)}${buffers ? 'Buffer' : ''}`];
    if (command === undefined) throw new Error(`script ${name} is not defined on the client`);
    // One array argument (ioredis flattens it): spreading a 50,000-job enqueue would overflow the stack.
    return command.call(client, [keys.length, ...keys, ...args] as never);
  };
}
