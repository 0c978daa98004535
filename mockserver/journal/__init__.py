"""The request log: every API request as an `Entry`, bounded when stored (`log`), and patterns that
find entries in it, with near misses ranked (`patterns`: paths matched by RE2, in linear time; queries
compared as the server reads them). Rules reuse the patterns to pick the requests they answer."""
