// The wire format's first byte: every encoded value starts with one tag byte, and these constants are
// the only place the numbers are written down (docs/codec.md has the same table). A tag number, once
// shipped, keeps its meaning; new types take a reserved number (0xd7–0xdf).

/** 0x00–0x7f: the integer 0–127 itself. */
export const POSITIVE_FIXINT_MAX = 0x7f;
/** 0x80–0x9f: a string of 0–31 UTF-8 bytes; the low five bits are the byte length. */
export const FIXSTR = 0x80;
export const FIXSTR_MAX_BYTES = 31;
/** 0xa0–0xaf: an array of 0–15 elements; the low four bits are the length. */
export const FIXARRAY = 0xa0;
/** 0xb0–0xbf: a plain object of 0–15 entries; the low four bits are the count. */
export const FIXOBJECT = 0xb0;
export const FIX_CONTAINER_MAX = 15;

export const UNDEFINED = 0xc0;
export const NULL = 0xc1;
export const FALSE = 0xc2;
export const TRUE = 0xc3;
/** Signed integers, little-endian two's complement of 1, 2 and 4 bytes. */
export const INT8 = 0xc4;
export const INT16 = 0xc5;
export const INT32 = 0xc6;
/** An IEEE 754 double, 8 bytes little-endian: every number that is not a small integer, -0 and NaN too. */
export const FLOAT64 = 0xc7;
/** varint byte length, then the magnitude little-endian; the tag carries the sign. */
export const BIGINT_POSITIVE = 0xc8;
export const BIGINT_NEGATIVE = 0xc9;
/** A string with a 1-byte (STR8) or 4-byte little-endian (STR32) UTF-8 byte length. */
export const STR8 = 0xca;
export const STR32 = 0xcb;
/** varint count, then the elements (ARRAY) or key/value pairs (OBJECT, NULL_PROTO_OBJECT, MAP). */
export const ARRAY = 0xcc;
export const OBJECT = 0xcd;
export const NULL_PROTO_OBJECT = 0xce;
export const MAP = 0xcf;
export const SET = 0xd0;
/** The time value as a double (NaN for an invalid Date). */
export const DATE = 0xd1;
/** Two string values: source, flags. */
export const REGEXP = 0xd2;
/** varint byte length, then the bytes. */
export const ARRAY_BUFFER = 0xd3;
/** Element kind (1 byte, see TYPED_ARRAY_KINDS), varint byte length, then the bytes in native order. */
export const TYPED_ARRAY = 0xd4;
/** varint byte length, then the bytes. */
export const DATA_VIEW = 0xd5;
/** Flags byte (ERROR_FLAG_*), name, message, then stack, cause and props as flagged. */
export const ERROR = 0xd6;
/** 0xe0–0xff: the integer -32 to -1 (the tag read as an int8). */
export const NEGATIVE_FIXINT_MIN = -32;
export const NEGATIVE_FIXINT = 0xe0;

export const ERROR_FLAG_STACK = 1;
export const ERROR_FLAG_CAUSE = 2;
export const ERROR_FLAG_PROPS = 4;
/** The error is a SkeinError: the decoder rebuilds it from its code with errorFromCode. */
export const ERROR_FLAG_SKEIN = 8;
