"""Who may call, and from where: CORS (`cors`), who may reach `/__admin` (`admin_access`: loopback, or
the admin token), and the documentation page with its live spec (`docs_page`)."""
