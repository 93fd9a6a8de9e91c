-- POSTs a distinct Telegram update per request (updates are deduplicated by update_id).
-- From the environment: TEXT (the message text), SECRET (the webhook secret), BASE (the first
-- update id of this run: each run of the bench passes its own, so runs never collide), NEW_USERS (set:
-- every update comes from a user never seen before; unset: from 500 users in turn).
local counter = 0
local text = os.getenv("TEXT") or "/help"
local secret = os.getenv("SECRET") or "bench-secret"
local base = tonumber(os.getenv("BASE") or "0")
local new_users = os.getenv("NEW_USERS") ~= nil
local threads = 0

-- Each wrk thread gets its own range of ten million update ids.
function setup(thread)
  threads = threads + 1
  thread:set("thread_base", base + threads * 10000000)
end

request = function()
  counter = counter + 1
  local id = thread_base + counter
  local user = 100000 + (counter % 500)
  if new_users then user = id end
  local body = string.format(
    '{"update_id":%d,"message":{"message_id":%d,"date":1764000000,"from":{"id":%d,"is_bot":false,"first_name":"U","language_code":"en"},"chat":{"id":%d,"type":"private","first_name":"U"},"text":"%s","entities":[{"type":"bot_command","offset":0,"length":%d}]}}',
    id, id % 1000000000, user, user, text, #text)
  return wrk.format("POST", "/telegram/webhook", {["Content-Type"] = "application/json", ["X-Telegram-Bot-Api-Secret-Token"] = secret}, body)
end
