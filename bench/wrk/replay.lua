-- Replays pre-built raw HTTP requests round robin (many devices, each with its own token or signed body).
-- The file named by $WRK_REQUESTS holds the requests separated by NUL bytes (see bench/common.py: replay).
local requests = {}
local next_index = 0

function init(args)
  local file = assert(io.open(os.getenv("WRK_REQUESTS"), "rb"))
  local data = file:read("*a")
  file:close()
  for raw in string.gmatch(data, "([^%z]+)") do
    requests[#requests + 1] = raw
  end
  assert(#requests > 0, "no requests in " .. os.getenv("WRK_REQUESTS"))
  next_index = math.random(#requests) - 1
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end
