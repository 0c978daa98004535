"""Several workers and hosts on one state, in Redis: the connection, change notices and atomic Lua
writes (`redis_state`), the journal (`redis_journal`), sessions (`redis_sessions`), and what
`--state redis://…` adds to an app (`backend`). Imported only when `--state` is set."""
