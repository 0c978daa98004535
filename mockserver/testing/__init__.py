"""Apart from the layers, importing nothing else of the package: a server as a child process with an
HTTP client for it (`live`), for the tests, the benchmarks and the fuzz campaign; and the mock's client
for one test (`client`: a session of its own, its data, `assert_called` and `assert_no_violations`),
with the wording of its failures (`failures`), which the pytest plugin hands its consumers."""
