"""What requests change, per session: the mutable part (links, click events) behind one interface, in
memory (`mutable`), the data set indexed with its state (`store`), JSON:API rendering with a cache
that lives as long as a session's state version (`documents`), and the sessions themselves, one world
per `X-Mock-Session` (`sessions`). Rendering lives here because its cache is a session's and is keyed
by the store's version."""
