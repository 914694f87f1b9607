// Adapter discovery: what WebGPU adapters this machine offers (a GPU through its Vulkan/Metal/D3D12
// driver, or the CPU through lavapipe), described as plain data, and picking one by preference or name.
// Dawn hands out one adapter per request and an adapter makes one device, so picking asks again.

import { SkeinError } from '../errors.ts';
import { dawn } from './dawn.ts';

export type PowerPreference = 'high-performance' | 'low-power';

/** One adapter as plain data: what it is, what it can do, and its limits. */
export interface AdapterDescription {
  /** The most specific name Dawn gives (description, else device, else vendor). */
  readonly name: string;
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** True for a CPU implementation (lavapipe, SwiftShader): kernels choose their CPU-friendly variants. */
  readonly software: boolean;
  /** Optional WebGPU features the adapter offers ('shader-f16', 'subgroups', 'timestamp-query', …). */
  readonly features: readonly string[];
  /** Every limit of GPUSupportedLimits by name (bytes for sizes). */
  readonly limits: Readonly<Record<string, number>>;
  /** Subgroup sizes when the adapter offers subgroups (0 otherwise). */
  readonly subgroupMinSize: number;
  readonly subgroupMaxSize: number;
}

/** Where a machine without an adapter gets one; part of every SKEIN_GPU_NO_ADAPTER message. */
export const HOW_TO_GET_AN_ADAPTER =
  'Install a GPU driver with Vulkan support, or the CPU software driver lavapipe: on Debian bookworm add ' +
  '"deb http://deb.debian.org/debian bookworm-backports main" to the apt sources, then ' +
  '`apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1`';

const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|software/i;

export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const info = adapter.info as GPUAdapterInfo & {
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
    isFallbackAdapter?: boolean;
  };
  const limits: Record<string, number> = {};
  // GPUSupportedLimits exposes its values as prototype getters, so for…in (not Object.keys) finds them.
  for (const key in adapter.limits) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  const features = [...adapter.features].sort();
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  return Object.freeze({
    name: info.description || info.device || info.vendor || 'unknown adapter',
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: info.isFallbackAdapter === true || SOFTWARE_NAMES.test(text),
    features: Object.freeze(features),
    limits: Object.freeze(limits),
    subgroupMinSize: features.includes('subgroups') ? (info.subgroupMinSize ?? 0) : 0,
    subgroupMaxSize: features.includes('subgroups') ? (info.subgroupMaxSize ?? 0) : 0,
  });
}

const REQUESTS: readonly GPURequestAdapterOptions[] = [
  { powerPreference: 'high-performance' },
  { powerPreference: 'low-power' },
  { forceFallbackAdapter: true },
];

function keyOf(description: AdapterDescription): string {
  return `${description.vendor}\u0000${description.architecture}\u0000${description.device}\u0000${description.description}`;
}

/** Every distinct adapter Dawn offers under the power preferences and as a fallback adapter. */
async function requestEach(): Promise<{ adapter: GPUAdapter; description: AdapterDescription }[]> {
  const found = new Map<string, { adapter: GPUAdapter; description: AdapterDescription }>();
  for (const request of REQUESTS) {
    const adapter = await dawn().requestAdapter(request);
    if (adapter === null) continue;
    const description = describeAdapter(adapter);
    if (!found.has(keyOf(description))) found.set(keyOf(description), { adapter, description });
  }
  return [...found.values()];
}

/**
 * The adapters this machine offers, best first (high-performance, then low-power, then fallback).
 * An empty list means no GPU driver and no software Vulkan driver is installed.
 * @example
 * for (const a of await listAdapters()) console.log(a.name, a.software ? '(CPU)' : '', a.limits.maxBufferSize);
 */
export async function listAdapters(): Promise<AdapterDescription[]> {
  return (await requestEach()).map((entry) => entry.description);
}

export interface AdapterChoice {
  readonly powerPreference?: PowerPreference;
  /** A case-insensitive substring of, or a RegExp tested against, the adapter's name, vendor or device. */
  readonly adapter?: string | RegExp;
}

function matches(description: AdapterDescription, wanted: string | RegExp): boolean {
  const text = `${description.name} ${description.vendor} ${description.device} ${description.architecture}`;
  return typeof wanted === 'string' ? text.toLowerCase().includes(wanted.toLowerCase()) : wanted.test(text);
}

/**
 * A fresh adapter (unused, so it can make a device) by preference and name.
 * @throws SKEIN_GPU_NO_ADAPTER when none exists or none matches the name.
 */
export async function pickAdapter(choice: AdapterChoice): Promise<GPUAdapter> {
  if (choice.adapter === undefined) {
    const preferred = await dawn().requestAdapter(
      choice.powerPreference === undefined ? {} : { powerPreference: choice.powerPreference },
    );
    if (preferred !== null) return preferred;
    throw new SkeinError(
      'SKEIN_GPU_NO_ADAPTER',
      `No WebGPU adapter found on this machine. ${HOW_TO_GET_AN_ADAPTER}`,
    );
  }
  const candidates = await requestEach();
  const wanted = choice.adapter;
  const hit = candidates.find((entry) => matches(entry.description, wanted));
  if (hit !== undefined) return hit.adapter;
  const names = candidates.map((entry) => `"${entry.description.name}"`).join(', ');
  throw new SkeinError(
    'SKEIN_GPU_NO_ADAPTER',
    candidates.length === 0
      ? `No WebGPU adapter found on this machine (asked for ${String(wanted)}). ${HOW_TO_GET_AN_ADAPTER}`
      : `No WebGPU adapter matches ${String(wanted)}; this machine offers ${names}. Pass a part of one of those names, or omit adapter`,
  );
}
