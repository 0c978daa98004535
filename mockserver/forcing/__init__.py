"""Answers forced per request, in this order: by the client's `Prefer` or `__code…` parameters
(`by_preference`), by rules (`by_rule`, which also applies every delay and transport fault as the
answer goes out), and by the simulated latency, error and fault rates (`by_chance`); the answers the
spec supplies for them (`spec_answers`)."""
