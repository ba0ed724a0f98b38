/**
 * Reads docker-compose.yml into the few fields we use: the testcontainers setup starts exactly
 * these services (so "the same stack" holds by construction) and the tests compare them with
 * config/local-stack.ts and images.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './paths';

export const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');

export interface PortMapping {
  host: number;
  container: number;
}

export interface ComposeService {
  name: string;
  image: string;
  command?: string[];
  user?: string;
  environment: Record<string, string>;
  ports: PortMapping[];
  volumes: string[];
  healthcheck?: unknown;
}

/** "19092:19092" or "127.0.0.1:16379:6379" -> { host, container }. */
export function parsePortMapping(spec: string): PortMapping {
  const parts = spec.split(':');
  const container = Number(parts[parts.length - 1]);
  const host = Number(parts[parts.length - 2]);
  if (parts.length < 2 || !Number.isInteger(host) || !Number.isInteger(container)) {
    throw new Error(`unsupported port mapping "${spec}" (expected host:container)`);
  }
  return { host, container };
}

type RawService = {
  image?: string;
  command?: string[] | string;
  user?: string | number;
  environment?: Record<string, string | number | boolean> | string[];
  ports?: string[];
  volumes?: string[];
  healthcheck?: unknown;
};

function toEnvironment(raw: RawService['environment']): Record<string, string> {
  if (!raw) return {};
  if (Array.isArray(raw)) {
    return Object.fromEntries(
      raw.map((kv) => [kv.split('=')[0] ?? kv, kv.split('=').slice(1).join('=')]),
    );
  }
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
}

export function readCompose(file = COMPOSE_FILE): ComposeService[] {
  const doc = parse(fs.readFileSync(file, 'utf8')) as { services?: Record<string, RawService> };
  return Object.entries(doc.services ?? {}).map(([name, raw]) => {
    if (!raw.image) throw new Error(`service ${name} in ${file} has no image`);
    return {
      name,
      image: raw.image,
      command: typeof raw.command === 'string' ? raw.command.split(' ') : raw.command,
      user: raw.user === undefined ? undefined : String(raw.user),
      environment: toEnvironment(raw.environment),
      ports: (raw.ports ?? []).map(parsePortMapping),
      volumes: raw.volumes ?? [],
      healthcheck: raw.healthcheck,
    };
  });
}
