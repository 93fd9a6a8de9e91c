-- POST /api/generations as many users in turn (generation is rate limited per user).
-- From the environment: AUTH_FILE (one `Authorization` value per line), BODY (the JSON body).
local auth = {}
for line in io.lines(os.getenv("AUTH_FILE")) do auth[#auth + 1] = line end
local body = os.getenv("BODY")
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("offset", threads * 100003)
end

request = function()
  counter = counter + 1
  return wrk.format("POST", "/api/generations",
    {["Content-Type"] = "application/json", ["Authorization"] = auth[(offset + counter) % #auth + 1]}, body)
end
