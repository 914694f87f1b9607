// Runs in a worker thread for test/errors.test.ts: builds one error per code with errorFromCode() and
// posts each back as plain data (code, message, own fields), the way a pool's worker reports a failure.

import { parentPort, workerData } from 'node:worker_threads';
import { errorFromCode } from '../../src/errors.ts';

interface Request {
  readonly code: string;
  readonly fields: Record<string, unknown>;
}

const requests = workerData as readonly Request[];
const replies = requests.map(({ code, fields }) => {
  const error = errorFromCode(code, `built in a worker for ${code}`, fields);
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) if (key !== 'code') own[key] = value;
  if (error.cause !== undefined) own.cause = error.cause;
  return { code: error.code, message: error.message, name: error.name, fields: own };
});
parentPort!.postMessage(replies);
