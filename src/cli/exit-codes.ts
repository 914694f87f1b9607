// The exit codes of every `skein` command: success, a command that failed, a usage error (as most Unix
// tools do).

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
