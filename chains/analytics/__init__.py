"""Analytics: events in ``analytics_events`` (seed), their background writer, and the queries
behind the dashboard and the unanswered-questions report."""
