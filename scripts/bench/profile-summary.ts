import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface ProfileFrame {
  /** function (file:line), or a package / V8 category for the `byArea` list. */
  frame: string;
  /** Share of all samples spent in this frame itself (not its callees). */
  selfShare: number;
  selfMs: number;
}

interface CpuProfile {
  nodes: Array<{
    id: number;
    hitCount?: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }>;
  startTime: number;
  endTime: number;
}

/**
 * The top self-time frames of a V8 CPU profile (node --cpu-prof), with the package (or ticks
 * folder) each frame is in, so a report can say where the time goes without opening DevTools.
 */
export function summariseProfile(file: string, limit = 15): ProfileFrame[] {
  const { frames } = readProfile(file);
  return frames.slice(0, limit);
}

/** Self time by area: each node_modules package, each ticks folder, V8's (gc), (program)... */
export function profileByArea(file: string, limit = 12): ProfileFrame[] {
  return readProfile(file).areas.slice(0, limit);
}

function readProfile(file: string): { frames: ProfileFrame[]; areas: ProfileFrame[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const totalHits = profile.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0) || 1;
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const frames = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const area = areaOf(url, functionName);
    const name =
      `${functionName || '(anonymous)'} ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ''}`.trim();
    frames.set(name, (frames.get(name) ?? 0) + hits);
    areas.set(area, (areas.get(area) ?? 0) + hits);
  }
  const toList = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([frame, hits]) => ({
        frame,
        selfShare: hits / totalHits,
        selfMs: (hits / totalHits) * totalMs,
      }));
  return { frames: toList(frames), areas: toList(areas) };
}

function shortUrl(url: string): string {
  const clean = url.replace(/^file:\/\//, '');
  const nm = clean.lastIndexOf('node_modules/');
  if (nm >= 0) return clean.slice(nm + 'node_modules/'.length);
  const root = path.resolve(__dirname, '..', '..') + path.sep;
  return clean.startsWith(root) ? clean.slice(root.length) : clean;
}

function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const clean = url.replace(/^file:\/\//, '');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(clean);
  if (nm) return nm[1]!;
  if (clean.startsWith('node:')) return 'node core';
  const rel = shortUrl(url);
  return rel.includes('/') ? `ticks ${rel.split('/').slice(0, 2).join('/')}` : rel;
}
