-- wrk script: GET /api/v1/desktops with a signed-in session.
wrk.method = "GET"
wrk.path = "/api/v1/desktops"
wrk.headers["Cookie"] = "portico_session=" .. os.getenv("PT_COOKIE")
