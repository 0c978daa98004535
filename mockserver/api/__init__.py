"""The Partners API's seven operations (`views`)."""
