import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { RedisClient } from './connect';

const LUA_DIR = path.join(__dirname, 'lua');
const INCLUDE = /^-- @include "([a-z-]+)"$/m;
/**
 * Every script is sent as a Redis 7 script with flags (a `#!lua` first line): on a
 * Redis Cluster the server then refuses any command of it that touches a key of another slot
 * than its first, even a key its node happens to hold ("Script attempted to access keys that
 * do not hash to the same slot"). Scripts without the line may touch any slot of their node:
 * one that did would run until a resharding moved a slot, then fail.
 */
export const SCRIPT_FLAGS_LINE = '#!lua';

export interface ScriptSource {
  /** camelCase command name, e.g. applyReceipts for apply-receipts-1.lua */
  name: string;
  /** Undefined for <name>-n.lua: the caller gives the number of keys first. */
  numberOfKeys?: number;
  lua: string;
}

/**
 * Reads lua/<name>-<numKeys>.lua once (<name>-n.lua: any number of keys, given first by the
 * caller), expanding `-- @include "x"` with lua/includes/x.lua, with the flags line first.
 */
export function readScripts(dir = LUA_DIR): ScriptSource[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .map((file) => {
      const match = /^([a-z-]+)-(\d+|n)\.lua$/.exec(file);
      if (!match)
        throw new Error(`Lua script ${file} must be named <name>-<numberOfKeys or n>.lua`);
      let lua = readFileSync(path.join(dir, file), 'utf8');
      for (let m = INCLUDE.exec(lua); m; m = INCLUDE.exec(lua)) {
        const fragment = readFileSync(path.join(dir, 'includes', `${m[1]}.lua`), 'utf8');
        lua = lua.replace(m[0], () => fragment); // a function: $' in Lua patterns is not a replacement token
      }
      const name = match[1]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
      // A script may give its own flags (`#!lua flags=no-writes`): the line is there already.
      if (!lua.startsWith(SCRIPT_FLAGS_LINE)) lua = `${SCRIPT_FLAGS_LINE}\n${lua}`;
      return { name, numberOfKeys: match[2] === 'n' ? undefined : Number(match[2]), lua };
    });
}

let cached: ScriptSource[] | undefined;
let keyCountFirst: ReadonlySet<string> | undefined;

/**
 * Whether a command is a <name>-n.lua script, whose caller gives the number of keys first (its
 * first key is its second argument: where a cluster pipeline looks for the slot). Asked for
 * every command a cluster pipeline splits: a set, read once.
 */
export function takesKeyCount(command: string): boolean {
  cached ??= readScripts();
  keyCountFirst ??= new Set(cached.filter((s) => s.numberOfKeys === undefined).map((s) => s.name));
  return keyCountFirst.has(command);
}

/**
 * Defines every script as an ioredis command: sent by EVALSHA, loaded on the first NOSCRIPT,
 * and usable inside pipelines so a whole batch goes in one round trip.
 */
export function defineScripts(redis: RedisClient): void {
  cached ??= readScripts();
  for (const script of cached) {
    if (!(script.name in redis)) redis.defineCommand(script.name, script);
  }
}
