-- POST /api/generations as many users in turn (generation is rate limited per user).
-- From the environment: AUTH_FILE (a line per user: the `Authorization` value, then optionally a tab and
-- the id of the model that user generates with), MODEL_ID (the model of lines that name none).
local users = {}
local model = os.getenv("MODEL_ID") or "0"
for line in io.lines(os.getenv("AUTH_FILE")) do
  local auth, own = line:match("^([^\t]+)\t(%d+)$")
  users[#users + 1] = { auth = auth or line, model = own or model }
end
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("offset", threads * 100003)
end

request = function()
  counter = counter + 1
  local user = users[(offset + counter) % #users + 1]
  local body = string.format('{"model_id":%s,"prompt":"a portrait in the rain","count":1}', user.model)
  return wrk.format("POST", "/api/generations",
    {["Content-Type"] = "application/json", ["Authorization"] = user.auth}, body)
end
