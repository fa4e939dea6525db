"""Analytics: events in ``analytics_events`` (seed), their background writer, the hourly
summaries kept beside them, and the queries behind the dashboard and the unanswered report."""
