local key = KEYS[1]
local now = tonumber(ARGV[1])
local window_start = tonumber(ARGV[2])
local max_requests = tonumber(ARGV[3])
local window_size = tonumber(ARGV[4])
-- Remove old entries outside window
redis.call('zremrangebyscore', key, '-inf', window_start)
-- Count current requests in window
local current = redis.call('zcard', key)
if current < max_requests then
-- Add new request with timestamp as score
redis.call('zadd', key, now, now)
redis.call('expire', key, window_size)
return 1
else
return 0
end
