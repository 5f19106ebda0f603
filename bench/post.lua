-- wrk script for the post64k scenario: every request is POST with a 64 KiB body of 'x'.
wrk.method = "POST"
wrk.body = string.rep("x", 65536)
wrk.headers["Content-Type"] = "application/octet-stream"
