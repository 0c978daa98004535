"""Apart from the layers: a server as a child process with a client for it (`live`), for the tests,
the benchmarks, the fuzz campaign and the pytest plugin. It imports nothing else of the package."""
