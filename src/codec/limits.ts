// The codec's limits and buffer sizes in one frozen table of plain data. Encoder and decoder read the
// same maxDepth, so whatever encodes also decodes; sizes are in bytes.

/** The codec's limits. Plain data, frozen. */
export const CODEC_LIMITS = Object.freeze({
  /** Containers (arrays, objects, Map, Set, errors) nested deeper than this are refused: 1000 levels. */
  maxDepth: 1000,
  /** The largest encoding the encoder produces: 2 GiB - 1 bytes. */
  maxEncodedBytes: 0x7fff_ffff,
  /** An Encoder's scratch buffer starts this large unless its constructor says otherwise: 1024 bytes. */
  initialBytes: 1024,
  /**
   * A scratch buffer grown past this size goes back to its initial size once an encoding uses less
   * than an eighth of it, so one huge message does not pin memory forever: 1 MiB.
   */
  shrinkAboveBytes: 1024 * 1024,
});
