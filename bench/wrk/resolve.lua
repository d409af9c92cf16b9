-- Resolve of an existing openid (or, with NEW=1, of new ones) through the API.
local persons = tonumber(os.getenv("PERSONS") or "1000000")
local key = os.getenv("KEY") or ""
local appid = os.getenv("APPID") or "wxbe0c000000000001"
local new = os.getenv("NEW") == "1"
local counter = 0

math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))

request = function()
  local openid
  if new then
    counter = counter + 1
    openid = string.format("onew%08x%016x", math.random(0, 2147483647), counter)
  else
    openid = string.format("om%026x", math.random(0, persons - 1))
  end
  local body = '{"appid": "' .. appid .. '", "openid": "' .. openid .. '"}'
  return wrk.format("POST", "/api/v1/identities/resolve",
    {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end
