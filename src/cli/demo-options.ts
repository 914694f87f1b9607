// The options of `skein demo` and their defaults, apart from the demo itself so that parsing arguments
// and printing help never load the pools.

export interface DemoOptions {
  /** Image width in pixels. @defaultValue 1600 */
  readonly width?: number;
  /** Image height in pixels. @defaultValue 1200 */
  readonly height?: number;
  /** Iterations before a point counts as inside the set. @defaultValue 1000 */
  readonly iterations?: number;
  /** Image rows per task; smaller bands balance the uneven cost of rows better. @defaultValue 8 */
  readonly rowsPerBand?: number;
  /** Workers in each pool. @defaultValue os.availableParallelism() */
  readonly workers?: number;
  /** Writes the image there as a binary PGM file. */
  readonly out?: string;
}

/** Defaults of `skein demo` (workers: os.availableParallelism() at run time). */
export const DEMO_DEFAULTS = Object.freeze({
  width: 1600, // pixels
  height: 1200, // pixels
  iterations: 1000,
  rowsPerBand: 8, // rows per task
});
