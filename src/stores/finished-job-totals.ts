/**
 * Monotonic totals of finished (failed, completed) jobs per queue, kept in Redis, for the counters
 * of GET /metrics.
 *
 * Why the counters are not just `getJobCounts('failed')`. BullMQ trims its failed set (90 days /
 * 2000 jobs) at the moment the next job fails, so with rare failures (the normal case) a new failure
 * replaces an old one and that count stays at 1: `increase()` would never see it, and a Prometheus
 * counter must never go down. So each scrape runs one Lua script per finished set that counts the
 * jobs it has not seen before into a total kept in Redis (`<prefix>:oob-metrics:<queue>:<state>`):
 * a watermark (newest finishedOn seen) plus the jobs seen in the last 10 minutes before it, which
 * tolerates the few ms between a worker taking finishedOn and its job landing in the set, and any
 * clock skew between workers up to that window. Atomic in Redis, so replicas scraping at once count
 * each job once; monotonic; catches every way a job fails (processor error, stalled too often), and
 * needs no hook in the workers. A parent failed by its child is not counted again. On the first scrape of an existing
 * installation it starts from the failed jobs still in history.
 * Labels: a job's name (the `schedule` queue's `run` and `verify-newest` ticks), or the kind (set /
 * sql) of a finished restore job, read from its restore request (kept 30 days) when the job is first
 * counted, i.e. at the next scrape.
 * Limits: a job that lands in its set more than 10 minutes behind the newest one counted is taken
 * for old history and not counted; counting starts with the first scrape, so jobs trimmed from
 * history before any scrape never count.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** The finished sets of a BullMQ queue. */
export type FinishedState = 'completed' | 'failed';

/** How far back each count looks again for jobs that landed late in their finished set. */
export const COUNT_LOOKBACK_MS = 10 * 60_000;

/**
 * KEYS[1] a BullMQ finished set (zset jobId -> finishedOn), KEYS[2] our state hash.
 * ARGV[1] lookback ms; ARGV[2] how to label each job: '' (not at all), 'name' (its job name) or
 * 'restore' (the kind of its restore request); ARGV[3] the queue's job key prefix; ARGV[4] the
 * restore request key prefix; ARGV[5] the finished state. Counts every (finishedOn, jobId) not counted
 * before into `total` and, when labelling, into `label:<label>`; a job failed only because its child
 * failed ("child <key> failed") is not counted: its child's failure is (one failure, one count). Returns the state hash as HGETALL does.
 */
const COUNT_FINISHED_LUA = `
local lookback = tonumber(ARGV[1])
local mode = ARGV[2]
local state = redis.call('HMGET', KEYS[2], 'wm', 'recent')
local wm = nil
if state[1] then wm = tonumber(state[1]) end
local recent = {}
if state[2] then
  for _, k in ipairs(cjson.decode(state[2])) do recent[k] = true end
end
local entries
if wm then
  entries = redis.call('ZRANGEBYSCORE', KEYS[1], wm - lookback, '+inf', 'WITHSCORES')
else
  entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
end
local function label(id)
  if mode == 'name' then
    local name = redis.call('HGET', ARGV[3] .. id, 'name')
    if name then return name end
    return 'unknown'
  end
  local data = redis.call('HGET', ARGV[3] .. id, 'data')
  if not data then return 'unknown' end
  local restoreId = cjson.decode(data).restoreId
  if type(restoreId) ~= 'string' then return 'unknown' end
  local record = redis.call('GET', ARGV[4] .. restoreId)
  if not record then return 'unknown' end
  local kind = cjson.decode(record).kind
  if kind == 'set' or kind == 'sql' or kind == 'files' then return kind end
  return 'unknown'
end
local added = 0
local newest = wm
for i = 1, #entries, 2 do
  local id = entries[i]
  local score = entries[i + 1]
  local key = score .. '|' .. id
  -- A parent failed only by its child (BullMQ's "child <key> failed"): the child's failure is the one counted.
  local byChild = false
  if ARGV[5] == 'failed' then
    local reason = redis.call('HGET', ARGV[3] .. id, 'failedReason')
    byChild = reason ~= false and reason ~= nil and string.match(reason, '^child %S+ failed$') ~= nil
  end
  if not recent[key] then
    recent[key] = true
    if not byChild then added = added + 1 end
    if mode ~= '' and not byChild then
      local ok, l = pcall(label, id)
      if not ok then l = 'unknown' end
      redis.call('HINCRBY', KEYS[2], 'label:' .. l, 1)
    end
  end
  local n = tonumber(score)
  if newest == nil or n > newest then newest = n end
end
redis.call('HINCRBY', KEYS[2], 'total', added)
if newest ~= nil then
  local kept = {}
  for k in pairs(recent) do
    local s = tonumber(string.match(k, '^([^|]+)|'))
    if s and s >= newest - lookback then table.insert(kept, k) end
  end
  local encoded = '[]'
  if #kept > 0 then encoded = cjson.encode(kept) end
  redis.call('HSET', KEYS[2], 'wm', string.format('%.17g', newest), 'recent', encoded)
end
return redis.call('HGETALL', KEYS[2])
`;

/** Restore requests are stored under this key (see RestoreRequests in restore-requests.ts). */
function restoreRecordPrefix(prefix: string): string {
  return `${prefix}:oob-restore:`;
}

export interface FinishedCount {
  total: number;
  byLabel: Record<string, number>;
}

/** Counts the jobs of one finished set of one queue not counted before; returns the new totals. */
export async function countFinished(
  redis: Redis,
  prefix: string,
  queue: Queue,
  state: FinishedState,
  labelBy: '' | 'name' | 'restore',
): Promise<FinishedCount> {
  const reply = (await redis.eval(
    COUNT_FINISHED_LUA,
    2,
    queue.toKey(state),
    `${prefix}:oob-metrics:${queue.name}:${state}`,
    String(COUNT_LOOKBACK_MS),
    labelBy,
    `${queue.qualifiedName}:`,
    restoreRecordPrefix(prefix),
    state,
  )) as string[] | Record<string, string>;
  // A flat array under RESP2 (what createRedis uses), a map under RESP3.
  const pairs: [string, string][] = [];
  if (Array.isArray(reply)) for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), String(reply[i + 1])]);
  else for (const [k, v] of Object.entries(reply)) pairs.push([k, String(v)]);
  const result: FinishedCount = { total: 0, byLabel: {} };
  for (const [field, raw] of pairs) {
    const value = Number(raw);
    if (field === 'total') result.total = value;
    else if (field.startsWith('label:')) result.byLabel[field.slice('label:'.length)] = value;
  }
  return result;
}
