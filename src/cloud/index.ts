// skein/cloud: the compute cloud — CloudServer (API + job store + local agent, `skein up`), RemoteAgent
// (`skein worker` on other machines), CloudClient (the API over fetch, used by the CLI) and
// bundleModule (what `skein deploy` uploads). Fastify loads only when a server starts, esbuild only
// when a module is bundled.

export type { AgentState } from './agent-registry.ts';
export type { AgentMpi, AgentRegistration, AgentView, MpiPlacementHost } from './api/agent-wire.ts';
export type {
  AsyncInvokeView,
  CancelView,
  CreatedTokenView,
  DeploymentView,
  DeployRequestBody,
  ErrorResponse,
  ErrorView,
  FunctionVersionView,
  FunctionView,
  JobEventView,
  JobListView,
  JobView,
  SubmitRequest,
  TokenView,
} from './api/schemas.ts';
export type { Bundle } from './bundle.ts';
export { bundleHash, bundleModule } from './bundle.ts';
export type { CallOptions, CloudClientOptions } from './client.ts';
export { CloudClient } from './client.ts';
export type {
  DeploymentRecord,
  FunctionRecord,
  FunctionVersion,
  TokenRecord,
  TokenScope,
} from './cloud-store.ts';
export { TOKEN_SCOPES } from './cloud-store.ts';
export type { Credentials } from './credentials.ts';
export { CREDENTIALS_FILE, readCredentials } from './credentials.ts';
export type { CloudServerOptions, ResolvedCloudServerOptions } from './options.ts';
export { CLOUD_DEFAULTS, isLoopbackHost, resolveCloudServerOptions } from './options.ts';
export type { RemoteAgentHooks, RemoteAgentOptions } from './remote-agent.ts';
export { detectGpus, REMOTE_AGENT_DEFAULTS, RemoteAgent } from './remote-agent.ts';
export type { CloudServerHooks } from './server.ts';
export { CloudServer } from './server.ts';
