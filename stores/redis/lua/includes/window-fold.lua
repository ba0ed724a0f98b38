-- A group window fold, as the engine's WindowFold (processors/engine/window-fold.ts): over a run,
-- each range's upper end with the lowest start seen for it, the senders to tell, how many items
-- (receipts, or messages whose sending read something) it absorbed, the pushes the direct-chat
-- rule would have sent (per item, one to each sender it newly covers), the highest version and
-- the earliest source time; written into the window ('win') once. Needs "helpers" first.
local function newWindowFold(msgs, msg)
  local fold = {
    lo = {}, ends = {}, senders = {}, senderList = {},
    absorbed = 0, unwindowed = 0, version = 0, sourceAt = nil,
  }

  -- The senders other than `reader` with a message among the newest 256 of each range; they
  -- join the senders to tell. Returns how many.
  function fold.covered(ranges, reader)
    local seen, count = {}, 0
    for _, range in ipairs(ranges) do
      local ids = redis.call('ZREVRANGEBYSCORE', msgs, range[2], '(' .. str(range[1]), 'LIMIT', 0, 256)
      for _, id in ipairs(ids) do
        local _, sender = parseMessage(redis.call('HGET', msg, id))
        if sender and sender ~= reader and not seen[sender] then
          seen[sender] = true
          count = count + 1
          if not fold.senders[sender] then
            fold.senders[sender] = true
            fold.senderList[#fold.senderList + 1] = sender
          end
        end
      end
    end
    return count
  end

  -- One item's ranges; an item with none is not absorbed. `told`: fold.covered's count.
  function fold.add(ranges, told, version, sourceAt)
    for _, range in ipairs(ranges) do
      local hi = range[2]
      if fold.lo[hi] == nil then
        fold.ends[#fold.ends + 1] = hi
        fold.lo[hi] = range[1]
      elseif range[1] < fold.lo[hi] then
        fold.lo[hi] = range[1]
      end
    end
    if #ranges == 0 then return end
    fold.absorbed = fold.absorbed + 1
    fold.unwindowed = fold.unwindowed + told
    fold.version = math.max(fold.version, version)
    fold.sourceAt = math.min(fold.sourceAt or sourceAt, sourceAt)
  end

  -- Writes the fold into the window (one HMGET reads what it knows, one HSET writes what
  -- changes); returns 1 when a window is open afterwards, else 0.
  function fold.write(win, ttl)
    if fold.absorbed == 0 then return redis.call('EXISTS', win) end
    local fields = {'ver', 'src'}
    for _, hi in ipairs(fold.ends) do fields[#fields + 1] = 'r:' .. str(hi) end
    local known = hmget(win, fields)
    local wver, wsrc = tonumber(known[1] or '0'), tonumber(known[2] or fold.sourceAt)
    local updates = {'ver', str(math.max(wver, fold.version)), 'src', str(math.min(wsrc, fold.sourceAt))}
    for k, hi in ipairs(fold.ends) do
      local lo = known[k + 2]
      if not lo or tonumber(lo) > fold.lo[hi] then
        updates[#updates + 1] = fields[k + 2]
        updates[#updates + 1] = str(fold.lo[hi])
      end
    end
    for _, sender in ipairs(fold.senderList) do
      updates[#updates + 1] = 's:' .. sender
      updates[#updates + 1] = '1'
    end
    callPairs('HSET', win, updates)
    redis.call('HINCRBY', win, 'absorbed', fold.absorbed)
    redis.call('HINCRBY', win, 'unwindowed', fold.unwindowed)
    -- A new window gets its TTL (a safety net: windows are deleted when they close).
    if not known[1] then touch(ttl, win) end
    return 1
  end

  return fold
end
