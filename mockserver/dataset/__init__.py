"""The data a server answers from: the records (`model`), Faker data (`faker_data`), a YAML file read
safely within bounds with the line of every value (`yaml_reader`), a scenario checked and built from
it (`scenario`), which data set to serve, at start-up or when `PUT /__admin/scenario` asks
(`selection`), partners indexed as bitmasks (`index`), and selecting and paging them (`queries`)."""
