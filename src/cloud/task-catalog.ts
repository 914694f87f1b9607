// Which tasks a request may name: an exported task() of a module file under the project directory,
// by relative path and export name. Nothing from a request is evaluated: the path is checked (no
// absolute path, URL, `..` or symlink leading out, nothing in .skein/ or node_modules/), the module is
// imported from disk by its file URL, and the export must be a task reference.

import { realpath, stat } from 'node:fs/promises';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SkeinError } from '../errors.ts';
import { isTask, rememberExportName, resolveExportName, type Task } from '../task.ts';

const MODULE_EXTENSIONS: ReadonlySet<string> = new Set(['.ts', '.mts', '.js', '.mjs']);
const EXPORT_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;
/** Directories under the project that hold no task modules a request may name. */
const REFUSED_SEGMENTS: ReadonlySet<string> = new Set(['.skein', 'node_modules', '.git']);

/** A task found on disk for a request. */
export interface CatalogTask {
  /** The module path relative to the project directory, with `/` separators. */
  readonly module: string;
  readonly exportName: string;
  readonly task: Task<never, unknown>;
}

function refused(module: string, why: string): SkeinError {
  return new SkeinError(
    'SKEIN_CLOUD_MODULE_REFUSED',
    `task module ${JSON.stringify(module)} is refused: ${why}; name a .ts/.mts/.js/.mjs file by its path relative to the project directory (the directory skein up runs in)`,
  );
}

function notFound(module: string, exportName: string, why: string, cause?: unknown): SkeinError {
  return new SkeinError(
    'SKEIN_CLOUD_TASK_NOT_FOUND',
    `no task ${module}:${exportName}: ${why}; export it from the module with export const ${EXPORT_NAME.test(exportName) ? exportName : 'name'} = task(import.meta, fn)`,
    cause === undefined ? undefined : { cause },
  );
}

/** Finds tasks under one project directory (resolved to its real path once). */
export class TaskCatalog {
  readonly projectDir: string;

  private constructor(projectDir: string) {
    this.projectDir = projectDir;
  }

  static async open(projectDir: string): Promise<TaskCatalog> {
    return new TaskCatalog(await realpath(projectDir));
  }

  /** The relative, normalized path of a module under the project, or a refusal. @throws SKEIN_CLOUD_MODULE_REFUSED */
  checkPath(module: string): string {
    if (module.includes('\0')) throw refused(module, 'it contains a NUL byte');
    if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(module)) throw refused(module, 'URLs are not accepted');
    if (isAbsolute(module) || module.startsWith('\\'))
      throw refused(module, 'absolute paths are not accepted');
    const absolute = resolve(this.projectDir, module);
    const rel = relative(this.projectDir, absolute);
    if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
      throw refused(module, 'it leads outside the project directory');
    }
    const segments = rel.split(sep);
    const bad = segments.find((segment) => REFUSED_SEGMENTS.has(segment));
    if (bad !== undefined) throw refused(module, `modules under ${bad}/ cannot be named`);
    if (!MODULE_EXTENSIONS.has(extname(rel)))
      throw refused(module, 'it is not a .ts, .mts, .js or .mjs file');
    return segments.join('/');
  }

  /**
   * The task `exportName` of `module`, imported from disk.
   * @throws SKEIN_CLOUD_MODULE_REFUSED, SKEIN_CLOUD_TASK_NOT_FOUND
   */
  async find(module: string, exportName: string): Promise<CatalogTask> {
    const rel = this.checkPath(module);
    if (!EXPORT_NAME.test(exportName)) {
      throw notFound(rel, exportName, 'the export name is not a JavaScript identifier');
    }
    const absolute = resolve(this.projectDir, rel);
    let real: string;
    try {
      real = await realpath(absolute);
    } catch (error) {
      throw notFound(rel, exportName, 'the module file does not exist', error);
    }
    // A symlink inside the project may point anywhere: check where it really leads.
    const realRel = relative(this.projectDir, real);
    if (realRel.startsWith(`..${sep}`) || realRel === '..' || isAbsolute(realRel)) {
      throw refused(module, 'it is a link leading outside the project directory');
    }
    if (!(await stat(real)).isFile()) throw refused(module, 'it is not a file');
    let namespace: Record<string, unknown>;
    try {
      namespace = (await import(pathToFileURL(real).href)) as Record<string, unknown>;
    } catch (error) {
      throw notFound(
        rel,
        exportName,
        `the module failed to load (${error instanceof Error ? error.message : String(error)})`,
        error,
      );
    }
    const value = Object.hasOwn(namespace, exportName) ? namespace[exportName] : undefined;
    if (value === undefined) throw notFound(rel, exportName, 'the module has no export of that name');
    if (!isTask(value)) throw notFound(rel, exportName, 'that export is not a task() reference');
    // Workers find a task by the module that defined it (task.moduleUrl) and its export there; a task
    // made in one module and exported only from another could be stored but never run.
    try {
      rememberExportName(value, await resolveExportName(value, value.moduleUrl, value.exportName));
    } catch (error) {
      throw notFound(
        rel,
        exportName,
        `the task was defined in ${value.moduleUrl}, which does not export it, so no worker could find it`,
        error,
      );
    }
    return { module: rel, exportName, task: value as Task<never, unknown> };
  }
}
