// Runs in a worker thread the server starts for each new bundle: imports the bundle (its top-level code
// runs here, never in the server's main thread) and posts back the names of its exported task()
// references that were defined in the bundle itself, and its `config` export (function settings, data
// only: the server validates it), or the load error's message.

import { parentPort, workerData } from 'node:worker_threads';
import { isTask } from '../../task.ts';

const { url } = workerData as { url: string };
try {
  const namespace = (await import(url)) as Record<string, unknown>;
  const tasks = Object.keys(namespace).filter((key) => {
    const value = namespace[key];
    return isTask(value) && value.moduleUrl === url && (value.exportName ?? key) === key;
  });
  const config = isTask(namespace.config) ? undefined : namespace.config;
  try {
    parentPort?.postMessage({ tasks, config });
  } catch (error) {
    parentPort?.postMessage({
      tasks,
      configError: `its config export cannot be copied as data (${error instanceof Error ? error.message : String(error)})`,
    });
  }
} catch (error) {
  parentPort?.postMessage({
    error:
      error instanceof Error
        ? `${error.name}: ${error.message}`
        : `a non-Error value was thrown: ${String(error)}`,
  });
}
