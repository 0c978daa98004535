"""`/__admin`: sessions, journal, verification, violations, rules, data switches (`endpoints`), with a
contract of its own (`admin-openapi.yaml`)."""
