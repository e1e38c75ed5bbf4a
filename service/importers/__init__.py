"""Importing a CRM's past (Salesforce and HubSpot exports) and NDJSON CloudEvents into the log."""
