"""The web app of a running gunwatch: incident review pages, /metrics and /healthz."""
