// tinypool worker file: named exports, chosen per call with run(value, { name }).

export { noop, spin, sumArray } from './work.ts';
