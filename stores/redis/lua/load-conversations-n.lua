#!lua flags=no-writes
--[[
  Reads conversations' whole hot state, for the in-memory engine
  (stores/state/conversation-loader.ts): several conversations in one call (a Lua call costs
  more than the dozen reads of one conversation: loading each on its own made a script call the
  largest share of the loads' Redis time), each a consistent snapshot, as no write runs in
  between. Read-only (no-writes): it can run on a replica, and can never change what it reads.
  KEYS    the conversations' key prefixes (on a Redis Cluster one per call: each its own slot)
  ARGV    per key, in order: n, then n message ids whose delivered-by-id entries to read as well
          (the engine holds only those a step needs: helpers.lua deliveredBy)
  Returns per key, in order, {meta, members, read, dlvd, msg, msgs, notified, win, held, dlv,
  deleted, marked, ix, log, logKeys, pttl}:
    meta, read, dlvd, msg, notified, win, deleted, marked: HGETALL (flat field, value, …)
    members: SMEMBERS; msgs: ZRANGE 0 -1 WITHSCORES (flat id, seq, …, in seq order)
    ix: ZRANGE 0 -1 WITHSCORES (flat entry, seq, …): the index where meta's LAYOUT field is
    INDEX_LAYOUT; msg and msgs are then {} (and ix is {} where it is not)
    meta holds the members, watermarks and 'told up to' marks ('m:', 'r:', 'd:', 'tr:', 'td:'
    fields); members, read, dlvd and notified are the keys of the legacy layout, which held
    them before (empty once a write moved them; not read where meta's LAYOUT field says the
    conversation was created after it)
    held: ZRANGE held 0 -1 WITHSCORES (the held receipts, flat entry, deadline, …)
    dlv: per message id asked, in order, who confirmed it by id: flat user, at, … ({} for none)
    log: HGETALL of the 'log' hash, where meta's LAYOUT field is PACKED_LOG_LAYOUT and the
    conversation is not a direct chat (a direct chat's log fields are in meta), else {}
    logKeys: where LAYOUT is LOG_LAYOUT or INDEX_LAYOUT, the members' 'log:<user>' keys, to be
    moved into fields: flat user, {ZRANGE 0 -1 WITHSCORES}, … for every user with a watermark
    or membership whose key exists; else {}
    pttl: PTTL of meta (ms left of the core keys' expiry; -1 none, -2 no meta): when it was
    last refreshed, as meta no longer says (helpers.lua refreshCore)
  Cost: O(size of the conversations' state): meant for a conversation's first use by the
  process that owns it, not for every event.
]]
-- @include "helpers"

local function snapshot(p, ids)
  local dlv = {}
  local meta = redis.call('HGETALL', p .. 'meta')
  -- Created in today's layout (meta's LAYOUT field): it never had the legacy layout's keys.
  local current = currentLayout(meta)
  -- The message index is 'ix' (INDEX_LAYOUT, PACKED_LOG_LAYOUT), else 'msg' and 'msgs'; never both read.
  local layout = layoutOf(meta)
  local oneKey = hasOneKeyIndex(layout)
  local log, logKeys = {}, {}
  if layout == PACKED_LOG_LAYOUT then
    if kindOf(meta) ~= 'DIRECT' then log = redis.call('HGETALL', p .. 'log') end
  elseif current then
    local members, reads, dlvds = memberState(meta)
    for _, user in ipairs(everyone(members, reads, dlvds)) do
      local entries = redis.call('ZRANGE', p .. 'log:' .. user, 0, -1, 'WITHSCORES')
      if #entries > 0 then
        logKeys[#logKeys + 1] = user
        logKeys[#logKeys + 1] = entries
      end
    end
  end
  local function index(command, suffix, ...)
    if oneKey == (suffix == 'ix') then return redis.call(command, p .. suffix, ...) end
    return {}
  end
  local function legacy(command, suffix)
    if current then return {} end
    return redis.call(command, p .. suffix)
  end
  if #ids > 0 then
    local members, reads, dlvds
    if current then members, reads, dlvds = memberState(meta) else members, reads, dlvds = memberStateOf(p) end
    local users = everyone(members, reads, dlvds)
    local older = not current
    for i, id in ipairs(ids) do
      dlv[i] = deliveredBy(p, id, users, older)
    end
  end
  return {
    meta,
    legacy('SMEMBERS', 'members'),
    legacy('HGETALL', 'read'),
    legacy('HGETALL', 'dlvd'),
    index('HGETALL', 'msg'),
    index('ZRANGE', 'msgs', 0, -1, 'WITHSCORES'),
    legacy('HGETALL', 'notified'),
    redis.call('HGETALL', p .. 'win'),
    redis.call('ZRANGE', p .. 'held', 0, -1, 'WITHSCORES'),
    dlv,
    redis.call('HGETALL', p .. 'deleted'),
    redis.call('HGETALL', p .. 'marked'),
    index('ZRANGE', 'ix', 0, -1, 'WITHSCORES'),
    log,
    logKeys,
    redis.call('PTTL', p .. 'meta'),
  }
end

local snapshots = {}
local at = 1
for k, p in ipairs(KEYS) do
  local n = tonumber(ARGV[at])
  local ids = {}
  for i = 1, n do ids[i] = ARGV[at + i] end
  at = at + n + 1
  snapshots[k] = snapshot(p, ids)
end
return snapshots
