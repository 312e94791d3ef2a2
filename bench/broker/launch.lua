-- wrk script: POST /api/v1/pools/<pool>/launch with a signed-in session (bench_broker.c
-- passes the cookie, the CSRF token and the pool in the environment).
wrk.method = "POST"
wrk.path = "/api/v1/pools/" .. os.getenv("PT_POOL") .. "/launch"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "portico_session=" .. os.getenv("PT_COOKIE")
wrk.headers["X-CSRF-Token"] = os.getenv("PT_CSRF")

statuses = {}
response = function(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end
