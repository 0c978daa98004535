"""Pact files: the journal exported as a Pact (`export`), any Pact checked against the spec with the
mock's own validators (`verify`), and a Pact replayed against a provider with Pact's verifier
(`replay`). Imported lazily by the command line, the admin API and the pytest plugin."""
