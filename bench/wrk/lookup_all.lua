-- Every person's openid in order, then again: fills the person cache before the cached round.
-- Env: PERSONS, KEY, APPID. Each of the two wrk threads takes every other index.
local persons = tonumber(os.getenv("PERSONS") or "1000000")
local key = os.getenv("KEY") or ""
local appid = os.getenv("APPID") or "wxbe0c000000000001"
local counter = 0

function setup(thread)
  thread:set("first", counter)
  counter = counter + 1
end

function init(args)
  index = first
  step = 2
end

request = function()
  local openid = string.format("om%026x", index % persons)
  index = index + step
  local headers = {Authorization = "Bearer " .. key}
  return wrk.format("GET", "/api/v1/persons/lookup?appid=" .. appid .. "&openid=" .. openid, headers)
end
