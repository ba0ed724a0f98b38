-- One user's unread figures in one conversation (its key prefix p), appended to `out`: six values,
-- read_up_to_seq, last_seq, last_at, unread (messages above the watermark), marked (1 when the
-- user marked it unread, else 0) — integers, 0 where nothing is known — and kind (a string, ''
-- when not known). The read watermark comes first: the count needs it. It is meta's
-- 'r:<user>', or, where meta has none, the 'read' hash of the layout before (kept until the
-- pipeline's next write to the conversation moves it into meta). The messages are counted in the
-- index meta's layout field names ('lv' = '3' or '4', keys.ts hasOneKeyIndex: 'ix', else 'msgs').
local function unreadRow(out, p, user)
  local meta = redis.call('HMGET', p .. 'meta', 'last_seq', 'last_at', 'kind', 'r:' .. user, 'lv')
  local read = tonumber(meta[4] or redis.call('HGET', p .. 'read', user) or '0')
  local lastSeq = tonumber(meta[1] or '0')
  local b = #out
  out[b + 1] = read
  out[b + 2] = lastSeq
  out[b + 3] = tonumber(meta[2] or '0')
  -- No indexed message is above last_seq: a user who read up to it has nothing to count.
  if lastSeq > 0 and read >= lastSeq then
    out[b + 4] = 0
  else
    local index = p .. ((meta[5] == '3' or meta[5] == '4') and 'ix' or 'msgs')
    out[b + 4] = redis.call('ZCOUNT', index, '(' .. string.format('%.0f', read), '+inf')
  end
  out[b + 5] = redis.call('HEXISTS', p .. 'marked', user)
  out[b + 6] = meta[3] or ''
end
