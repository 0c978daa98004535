"""Rules: answers chosen by request content, declared in a scenario file or added at run time, checked
against the spec when loaded, with a book of them (and their counts) per session (`book`). Below the
data set, since a scenario file carries rules."""
