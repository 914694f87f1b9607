// A mistake in how a command was called (unknown option, bad value, missing argument): the CLI prints
// one line naming it and exits 2, as most Unix tools do.

export class UsageError extends Error {}
