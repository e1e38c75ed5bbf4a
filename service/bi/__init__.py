"""Read-only database logins for BI tools and the connection strings they use."""
