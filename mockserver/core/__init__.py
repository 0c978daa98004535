"""Foundations every other room stands on, importing nothing above them: the errors that stop a start
(`startup_errors`), the JSON:API errors a request gets (`api_errors`), the configuration (`settings`),
and one thread that fires deadlines (`deadlines`)."""
