-- wrk script of bench/scale.py's varied load: cycles through a file of requests, one a line,
--   <bearer token><TAB><path with query>
-- (an empty token sends no Authorization header). The file's path comes after wrk's `--`, then
-- optionally how many requests to skip (the never-repeating load goes on where the last run stopped):
--   wrk -t1 -c16 -d10s --latency -s bench/wrk/varied.lua http://127.0.0.1:PORT/ -- urls.tsv [start]
-- Every request is formatted once, in init(); request() only hands out the next one.

local requests = {}
local count = 0
local index = 0

function init(args)
  local path = args[1]
  if path == nil or path == "" then
    error("varied.lua: give the URL file after --")
  end
  local file = assert(io.open(path, "r"))
  for line in file:lines() do
    local token, target = line:match("^([^\t]*)\t(%S+)$")
    if target ~= nil then
      local headers = {}
      for name, value in pairs(wrk.headers) do
        headers[name] = value
      end
      if token ~= "" then
        headers["Authorization"] = "Bearer " .. token
      end
      count = count + 1
      requests[count] = wrk.format("GET", target, headers)
    end
  end
  file:close()
  if count == 0 then
    error("varied.lua: no request in " .. path)
  end
  index = (tonumber(args[2] or "0") or 0) % count
end

function request()
  index = index % count + 1
  return requests[index]
end
