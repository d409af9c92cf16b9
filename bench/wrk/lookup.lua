-- Single lookup by a random openid of the data set (bench/dataset.py: "om" + 26 hex digits).
-- Env: PERSONS (data-set size), KEY (API key; empty for the baseline), APPID.
local persons = tonumber(os.getenv("PERSONS") or "1000000")
local key = os.getenv("KEY") or ""
local appid = os.getenv("APPID") or "wxbe0c000000000001"
local path = os.getenv("LOOKUP_PATH") or "/api/v1/persons/lookup"

math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))

request = function()
  local index = math.random(0, persons - 1)
  local openid = string.format("om%026x", index)
  local headers = {}
  if key ~= "" then headers["Authorization"] = "Bearer " .. key end
  return wrk.format("GET", path .. "?appid=" .. appid .. "&openid=" .. openid, headers)
end
