// The demo's workload: a Mandelbrot render, one band of rows at a time. Pure and deterministic: the same
// band gives the same bytes in any thread or process (only +, *, comparisons and Math.sqrt, all exactly
// rounded IEEE-754 operations), which is what lets the demo compare checksums across executors.

/** The image and how deep to iterate. */
export interface MandelbrotView {
  readonly width: number;
  readonly height: number;
  /** Iterations before a point counts as inside the set. */
  readonly iterations: number;
}

/** Rows [startRow, startRow + rows) of the image. */
export interface Band extends MandelbrotView {
  readonly startRow: number;
  readonly rows: number;
}

export interface RenderedBand {
  readonly startRow: number;
  /** One grey level per pixel, row by row: `rows × width` bytes. */
  readonly pixels: Uint8Array;
}

// The region of the complex plane shown: real part in [-2.5, 1], imaginary part centred on 0, its height
// following the image's aspect ratio so pixels stay square.
const REAL_MIN = -2.5;
const REAL_MAX = 1;

/** Renders one band: 0 inside the set, brighter the faster a point escapes. */
export function renderBand(band: Band): RenderedBand {
  const { width, height, iterations, startRow, rows } = band;
  const pixels = new Uint8Array(rows * width);
  const scale = (REAL_MAX - REAL_MIN) / width;
  for (let row = 0; row < rows; row++) {
    // Pixel centres; the offsets from the middle row are exact half-integers, so rows mirrored about the
    // real axis get exactly opposite ci and identical pixels.
    const ci = (height / 2 - (startRow + row) - 0.5) * scale;
    const rowOffset = row * width;
    for (let x = 0; x < width; x++) {
      const cr = REAL_MIN + (x + 0.5) * scale;
      let zr = 0;
      let zi = 0;
      let n = 0;
      while (n < iterations) {
        const zr2 = zr * zr;
        const zi2 = zi * zi;
        if (zr2 + zi2 > 4) break;
        zi = 2 * zr * zi + ci;
        zr = zr2 - zi2 + cr;
        n++;
      }
      pixels[rowOffset + x] = n === iterations ? 0 : 255 - Math.floor(255 * Math.sqrt(n / iterations));
    }
  }
  return { startRow, pixels };
}

/** Splits the image into bands of `rowsPerBand` rows (the last one may be shorter). */
export function splitIntoBands(view: MandelbrotView, rowsPerBand: number): Band[] {
  const bands: Band[] = [];
  for (let startRow = 0; startRow < view.height; startRow += rowsPerBand) {
    bands.push({ ...view, startRow, rows: Math.min(rowsPerBand, view.height - startRow) });
  }
  return bands;
}

/** Copies rendered bands into one image buffer of `width × height` bytes. */
export function assembleImage(view: MandelbrotView, bands: Iterable<RenderedBand>): Uint8Array {
  const image = new Uint8Array(view.width * view.height);
  for (const band of bands) image.set(band.pixels, band.startRow * view.width);
  return image;
}

/** The image as a binary PGM (P5) file: a header and one byte per pixel. */
export function toPgm(view: MandelbrotView, image: Uint8Array): Uint8Array {
  const header = new TextEncoder().encode(`P5\n${view.width} ${view.height}\n255\n`);
  const file = new Uint8Array(header.length + image.length);
  file.set(header, 0);
  file.set(image, header.length);
  return file;
}
