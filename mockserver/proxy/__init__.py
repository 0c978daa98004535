"""`mockserver proxy`: forwarding to a real server with both sides checked (`forwarding`), and what its
answers reveal, recorded as a scenario (`recording`)."""
