"""The API's contract and how a request is held to it: the spec read once (`spec`), the wording of
every failure (`wording`), strict JSON (`strict_json`), validators compiled per operation
(`compiled`), query arrays read in every form clients send (`query_arrays`), checks on the HTTP
message itself before the spec is consulted (`message_checks`), the validation hook
(`validation`), the optional check of every response (`response_check`), and JSON generated from a
schema (`from_schema`)."""
