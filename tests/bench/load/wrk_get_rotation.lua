-- wrk script for the gateway's GET /v1/rotations/{x} with a bearer token, over keep-alive
-- connections: an independent cross-check of clerkship-load's http_get_rotation figure.
--
--   wrk -t1 -c64 -d10s --latency -s tests/bench/load/wrk_get_rotation.lua \
--       http://127.0.0.1:8080 -- "$TOKEN" bench 10000
--
-- Arguments after "--": the bearer token, the data prefix and the number of seeded rotations
-- (as given to `clerkship-load seed`). Non-2xx answers appear in wrk's
-- "Non-2xx or 3xx responses" line.

local token, prefix, rotations

function init(args)
  token = args[1] or ""
  prefix = args[2] or "bench"
  rotations = tonumber(args[3] or "10000")
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  local path = string.format("/v1/rotations/%s-r-%05d", prefix, math.random(0, rotations - 1))
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token,
                                  ["Accept"] = "application/json"})
end
